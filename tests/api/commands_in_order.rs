//! `Commands::execute_in_order`, the bulk-load path: one client's commands queued back to back are
//! decided exactly as if sent one at a time, however many clients do so at once.

use tally::commands::{CommandError, Submission};
use tally::domain::{CommandRequest, Description, DomainError, TaskCommand, Title, UserId};
use uuid::Uuid;

use crate::support::{TestApp, on_both_backends};

on_both_backends!(many_clients_queueing_whole_task_lives_get_the_answers_of_one_at_a_time);

async fn many_clients_queueing_whole_task_lives_get_the_answers_of_one_at_a_time(app: TestApp) {
    const CLIENTS: usize = 64;
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (commands, now) = (app.commands.clone(), app.clock.now());
        clients.spawn(async move {
            let task = Uuid::now_v7();
            let actor = UserId::parse(&format!("client-{}", client % 8)).unwrap();
            let life = [
                TaskCommand::Create {
                    title: Title::parse("a task").unwrap(),
                    description: Description::default(),
                },
                TaskCommand::Complete,
                TaskCommand::Reopen,
                TaskCommand::Complete,
                TaskCommand::Complete,
            ];
            let submissions = life
                .into_iter()
                .map(|command| Submission {
                    request: CommandRequest {
                        stream_id: task,
                        actor: actor.clone(),
                        command: command.into(),
                        expected_version: None,
                        now,
                    },
                    idempotency: None,
                    correlation_id: Uuid::now_v7(),
                })
                .collect();
            commands.execute_in_order(submissions).await
        });
    }
    while let Some(answers) = clients.join_next().await {
        let answers = answers.unwrap();
        let versions: Vec<i64> = answers[..4]
            .iter()
            .map(|answer| answer.as_ref().expect("accepted").version)
            .collect();
        assert_eq!(versions, [1, 2, 3, 4], "decided in the order queued");
        assert!(
            matches!(
                answers[4],
                Err(CommandError::Domain(DomainError::InvalidTransition(_)))
            ),
            "the second complete in a row is refused: {:?}",
            answers[4]
        );
    }
    assert_eq!(app.db.event_count().await, 4 * CLIENTS as i64);
    for user in 0..8 {
        let figures = app.dashboard(&format!("client-{user}")).await;
        assert_eq!(figures["completed"], CLIENTS / 8, "{figures}");
        assert_eq!(figures["pending"], 0, "{figures}");
    }
}
