//! The API's description: OpenAPI 3.1 generated from the handlers' own annotations (so a
//! route cannot exist without its description), served at `GET /api/openapi.json`, and the
//! interactive docs page at `/docs` (Swagger UI, shipped inside the binary: it works offline).
//!
//! The human description, `docs/API.md`, is the spec's `info.description`, so the two are
//! one text.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{self, Components};
use utoipa::{IntoParams, IntoResponses, Modify};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::AppState;
use super::error::{ApiError, Problem};

/// The parts of the spec no handler owns: title, the human description, the security scheme.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "tally",
        description = include_str!("../../docs/API.md"),
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerJwt),
    tags(
        (name = "commands", description = "The write side: each command appends events and answers `{task_id, version, position}`."),
        (name = "tasks", description = "Tasks as their owner and those they are shared with see them."),
        (name = "dashboard", description = "The caller's figures: every one a single-row read."),
        (name = "teams", description = "Teams and their members: commands answer `{team_id, version, position}`; every team route is 404 to anyone outside the team."),
        (name = "operations", description = "For operators and tools: health, this description."),
    ),
)]
pub struct ApiDoc;

struct BearerJwt;

impl Modify for BearerJwt {
    fn modify(&self, spec: &mut openapi::OpenApi) {
        let components = spec.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose `sub` is the caller's user id; `exp` is required. \
                         `tally token --user NAME` prints one signed with the server's secret.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET /api/openapi.json`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// What the docs page may load and run: Swagger UI's own files (it has no inline script or
/// style element; the styles React sets go through the CSSOM, which CSP does not govern), the
/// `data:` images its stylesheet embeds, requests to this origin (the spec, "Try it out"), no
/// frames around it.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The docs page, reading the spec from `/api/openapi.json`.
pub fn docs() -> Router<AppState> {
    let swagger_ui: Router<AppState> = SwaggerUi::new("/docs")
        .config(
            Config::new(["/api/openapi.json"])
                // Swagger UI's default asks validator.swagger.io for a badge: a request that
                // leaves the machine.
                .validator_url("none")
                .try_it_out_enabled(true),
        )
        .into();
    swagger_ui
        .layer(middleware::from_fn(titled))
        .layer(middleware::map_response(docs_response))
}

/// Every answer under `/docs`: the page's policy headers, and the contract's problem+json
/// where Swagger UI's router answers an error with an empty body or its own text.
async fn docs_response(response: Response) -> Response {
    let status = response.status();
    let mut response = if status == StatusCode::NOT_FOUND {
        ApiError::NotFound("no such file of the docs page".into()).into_response()
    } else if status.is_server_error() {
        ApiError::Internal("the docs page could not be served".into()).into_response()
    } else {
        response
    };
    super::page::guard(response.headers_mut(), DOCS_CONTENT_SECURITY_POLICY);
    response
}

/// The docs page's tab names what it documents: Swagger UI's own page is titled "Swagger UI",
/// and its script leaves the title as it finds it.
async fn titled(request: Request, next: Next) -> Response {
    let is_page = matches!(request.uri().path(), "/docs/" | "/docs/index.html");
    let response = next.run(request).await;
    if !is_page || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let page = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(page) => page,
        Err(error) => return ApiError::Internal(error.into()).into_response(),
    };
    let page = String::from_utf8_lossy(&page).replacen(
        "<title>Swagger UI</title>",
        "<title>tally API</title>",
        1,
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

/// The spec, serialised once.
static SPEC_JSON: LazyLock<String> = LazyLock::new(|| {
    super::spec()
        .to_json()
        .expect("an OpenAPI document always serialises")
});

/// This document: every route, its parameters, bodies, answers and errors.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> Response {
    let mut response = SPEC_JSON.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Adds the position token (CONTRACT.md, "Consistency") to every read of `spec`, as the
/// [`bounds`](super::bounds) layer handles it on every read: the
/// `Tally-Position` answer header, and the refusals of a `Tally-Min-Position` (400, 422).
/// `Tally-Min-Position` itself is described in the spec's text (docs/API.md, "Consistency"),
/// not as a parameter of every operation: schemathesis takes a second header parameter as the
/// cue to send an unknown header and expect a refusal, which no HTTP API owes.
pub fn describe_positions(spec: &mut openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let answered = HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(openapi::SchemaFormat::KnownFormat(
                    openapi::KnownFormat::Int64,
                )))
                .minimum(Some(0))
                .build(),
        ))
        .description(Some("The answer reflects every event up to this position."))
        .build();
    let problem = |description: &str| {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build();
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build(),
        )
    };
    for item in spec.paths.paths.values_mut() {
        let Some(read) = item.get.as_mut() else {
            continue;
        };
        let responses = &mut read.responses.responses;
        for (status, response) in responses.iter_mut() {
            if let (RefOr::T(response), Some('2' | '3')) = (response, status.chars().next()) {
                let answered = RefOr::T(answered.clone());
                response
                    .headers
                    .insert("Tally-Position".to_owned(), answered);
            }
        }
        responses.entry("400".into()).or_insert_with(|| {
            problem("`malformed-request`: a `Tally-Min-Position` that is not a position.")
        });
        responses.entry("422".into()).or_insert_with(|| {
            problem("`validation`: a `Tally-Min-Position` past the log's head.")
        });
    }
}

/// A string that is one of `values`.
pub fn one_of(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// A share's permission.
pub fn share_permission() -> Object {
    one_of(&["view", "edit"])
}

/// `{}`: with `null` or no body, what a bodyless command accepts.
pub fn empty_body() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(0))
        .build()
}

/// The headers every command takes.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Describes headers `CommandHeaders` parses.
pub struct CommandHeaderParams {
    /// `"<version>"`: the command runs only if the task (or team) is at that version (412
    /// otherwise, but 403 first when the caller may not run it at all). Compared strongly: `W/`
    /// tags never match. A bare number is taken too, and a task read's `"<version>.<hash>"`
    /// tag, whose version is compared.
    #[param(
        rename = "If-Match",
        nullable = false,
        pattern = r#"^(W/)?("[0-9]{1,18}(\.[0-9a-f]{16})?"|[0-9]{1,18})$"#
    )]
    if_match: Option<String>,
    /// 1 to 255 printable ASCII characters (spaces inside only: a header's ends are trimmed). A repeat of the same request (method, path,
    /// `If-Match` and body) by the same user within 24 hours answers the first response again,
    /// refusals by the domain included, and appends nothing; another request under the same
    /// key is 422 `idempotency-key-reuse`.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        pattern = "^[!-~]([ -~]{0,253}[!-~])?$"
    )]
    idempotency_key: Option<String>,
}

/// What every authenticated route can fail with.
#[derive(IntoResponses)]
#[allow(dead_code)] // Describes answers `ApiError` renders.
pub enum ReadProblems {
    /// `malformed-request`: a path id that is not a UUID, a query parameter out of range, a
    /// `Tally-Min-Position` that is not a position.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// `unauthorized`: no token, or one that is not valid (expired, another key or algorithm).
    #[response(status = 401, content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"tally\"`")))]
    Unauthorized(Problem),
    /// `not-found`: no such task, or the caller may not see it.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// `internal`: details go to the log.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// `unavailable` or `timeout`: the database cannot take work now, or the read took over
    /// 30 s. Nothing was changed; retry after `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait before retrying.")))]
    Unavailable(Problem),
}

/// What a command can fail with.
#[derive(IntoResponses)]
#[allow(dead_code)] // Describes answers `ApiError` renders.
pub enum CommandProblems {
    /// `malformed-request`: a body that is not JSON, a path id that is not a UUID.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// `unauthorized`: no token, or one that is not valid.
    #[response(status = 401, content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"tally\"`")))]
    Unauthorized(Problem),
    /// `forbidden`: the caller can see the task or team but may not do this (a viewer edits; an
    /// editor deletes or shares; a plain member manages the team).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// `not-found`: no such task, team, share or member, or the caller may not see it.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// `invalid-transition`: complete a completed task, reopen a pending one; `last-admin`:
    /// the command would leave a team without an admin.
    #[response(status = 409, content_type = "application/problem+json")]
    InvalidTransition(Problem),
    /// `version-mismatch`: `If-Match` names another version than the task's (or team's).
    #[response(status = 412, content_type = "application/problem+json")]
    VersionMismatch(Problem),
    /// `payload-too-large`: a body over 64 KiB.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// `unsupported-media-type`: a body that is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// `validation` (a value out of its rules), `limit` (a task shared with 1,000 users, or a
    /// team of 1,000 members, takes no new one), or `idempotency-key-reuse`.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// `outcome-unknown`: the commit went unanswered; retry with the same `Idempotency-Key`,
    /// or read the task. `internal`: anything unexpected.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// `unavailable` (rolled back: the database cannot take work) or `timeout` (waited over
    /// 10 s for the writer and withdrawn). Nothing was applied; safe to retry.
    #[response(status = 503, content_type = "application/problem+json",
        headers(("Retry-After" = String, description = "Seconds to wait before retrying.")))]
    Unavailable(Problem),
}
