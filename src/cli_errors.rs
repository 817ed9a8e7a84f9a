//! Command-line errors that name the environment variable a bad value came from: clap names
//! only the flag (`--job-roll-over`), and a user who set `TALLY_JOB_ROLL_OVER` in a service
//! file would not know where to look.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::config::Cli;

/// Parses the process's arguments and environment; on an error prints it (with the variables
/// behind it) and exits as clap does: 2 for a usage error, 0 for `--help` and `--version`.
pub fn parse() -> Cli {
    let arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::command()
        .try_get_matches_from(&arguments)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            error.exit()
        }
        Err(error) => {
            // Only to tell whether a flag was given: a path that is not UTF-8 stays a flag.
            let arguments: Vec<String> = arguments
                .iter()
                .map(|argument| argument.to_string_lossy().into_owned())
                .collect();
            let notes = from_environment(&error, &arguments, |name| std::env::var(name).ok());
            let _ = error.print();
            for note in notes {
                eprintln!("  note: {note}");
            }
            std::process::exit(error.exit_code());
        }
    }
}

/// A line for each argument the error names that was not on the command line but came from
/// its variable: `TALLY_JOB_ROLL_OVER="0 0 * * *" set --job-roll-over`.
fn from_environment(
    error: &clap::Error,
    arguments: &[String],
    variable: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let named = [ContextKind::InvalidArg, ContextKind::PriorArg]
        .into_iter()
        .filter_map(|kind| match error.get(kind) {
            Some(ContextValue::String(argument)) => Some(vec![argument.clone()]),
            Some(ContextValue::Strings(arguments)) => Some(arguments.clone()),
            _ => None,
        })
        .flatten();
    let command = Cli::command();
    let mut notes = Vec::new();
    for argument in named {
        // clap names an argument as `--long <VALUE>`.
        let Some(long) = argument.split_whitespace().next() else {
            continue;
        };
        let Some((env, secret)) = env_of(&command, long.trim_start_matches("--")) else {
            continue;
        };
        let on_command_line = arguments
            .iter()
            .any(|given| given == long || given.starts_with(&format!("{long}=")));
        match (on_command_line, variable(&env)) {
            (false, Some(_)) if secret => notes.push(format!("{env} (not shown) set {long}")),
            (false, Some(value)) => notes.push(format!("{env}={value:?} set {long}")),
            _ => {}
        }
    }
    notes
}

/// The variable of the flag `--long`, in the command or any of its subcommands, and whether
/// its value is a secret (never printed).
fn env_of(command: &clap::Command, long: &str) -> Option<(String, bool)> {
    command
        .get_arguments()
        .find(|argument| argument.get_long() == Some(long))
        .and_then(|argument| {
            let env = argument.get_env()?.to_string_lossy().into_owned();
            Some((env, argument.is_hide_env_values_set()))
        })
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|subcommand| env_of(subcommand, long))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(arguments: &[&str], env: &[(&str, &str)]) -> (clap::Error, Vec<String>) {
        let arguments: Vec<String> = arguments.iter().map(|a| a.to_string()).collect();
        let error = Cli::command()
            .try_get_matches_from(&arguments)
            .expect_err("refused");
        let notes = from_environment(&error, &arguments, |name| {
            env.iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| value.to_string())
        });
        (error, notes)
    }

    #[test]
    fn a_bad_value_from_a_variable_names_the_variable() {
        let (_, notes) = error_of(
            &["tally", "serve", "--job-roll-over", "0 0 * * *"],
            &[("TALLY_JOB_ROLL_OVER", "0 0 * * *")],
        );
        // Given on the command line: the flag is the culprit, whatever the environment says.
        assert!(notes.is_empty(), "{notes:?}");
        let (_, notes) = error_of(
            &["tally", "serve", "--job-roll-over=0 0 * * *"],
            &[("TALLY_JOB_ROLL_OVER", "0 0 * * *")],
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn flags_of_subcommands_have_their_variables() {
        let command = Cli::command();
        let variable = |long| env_of(&command, long);
        assert_eq!(
            variable("job-roll-over"),
            Some(("TALLY_JOB_ROLL_OVER".into(), false))
        );
        // A database URL may carry a password.
        assert_eq!(
            variable("database-url"),
            Some(("TALLY_DATABASE_URL".into(), true))
        );
        assert_eq!(
            variable("jwt-secret"),
            Some(("TALLY_JWT_SECRET".into(), true))
        );
        assert_eq!(variable("user"), None);
    }
}
