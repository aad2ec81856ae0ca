//! `[etl]`: the dataset, schedule, parallelism, the event queue and the optional worker fleet,
//! read and checked (the queue and the fleet check themselves in `model::events`).

use serde::Deserialize;

use crate::model::Database;
use crate::model::config::validator::{Validator, is_identifier};
use crate::model::etl::Etl;
use crate::model::events::{EventQueue, Workers};

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawEtl {
    dataset: String,
    schedule_minutes: u32,
    jobs: u32,
    event_prefixes: Vec<String>,
    suffix: Option<String>,
    queue_visibility_timeout_seconds: u32,
    queue_max_receive_count: u32,
    queue_retention_days: u32,
    workers: Option<RawWorkers>,
}

impl Default for RawEtl {
    fn default() -> Self {
        Self {
            dataset: "events".into(),
            schedule_minutes: 60,
            jobs: 8,
            event_prefixes: vec!["raw/".into()],
            suffix: None,
            queue_visibility_timeout_seconds: 300,
            queue_max_receive_count: 5,
            queue_retention_days: 4,
            workers: None,
        }
    }
}

/// `[etl] workers = { min = 0, max = 4 }`: present means a fleet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkers {
    min: u32,
    max: u32,
    #[serde(default = "default_backlog_per_instance")]
    backlog_per_instance: u32,
}

fn default_backlog_per_instance() -> u32 {
    100
}

impl Validator<'_> {
    pub(super) fn etl(&mut self, raw: RawEtl, database: &Database) -> Etl {
        self.check(
            is_identifier(&raw.dataset),
            "etl.dataset",
            "must be the dataset spec's name: 1-63 characters of a-z, 0-9 and _, starting with a letter",
        );
        self.check(
            Etl::SCHEDULE_MINUTES.contains(&raw.schedule_minutes),
            "etl.schedule_minutes",
            "must divide an hour or a day evenly (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)",
        );
        self.check((1..=64).contains(&raw.jobs), "etl.jobs", "must be 1-64");
        let queue = EventQueue {
            prefixes: raw.event_prefixes,
            suffix: raw.suffix,
            visibility_timeout_seconds: raw.queue_visibility_timeout_seconds,
            max_receive_count: raw.queue_max_receive_count,
            retention_days: raw.queue_retention_days,
        };
        let workers = raw.workers.map(|w| Workers {
            min: w.min,
            max: w.max,
            backlog_per_instance: w.backlog_per_instance,
        });
        let problems = queue.problems().into_iter().chain(
            workers
                .iter()
                .flat_map(|w| w.problems(raw.jobs, &database.instance_class)),
        );
        for (field, message) in problems {
            self.fail(field, message);
        }
        Etl {
            dataset: raw.dataset,
            schedule_minutes: raw.schedule_minutes,
            jobs: raw.jobs,
            queue,
            workers,
        }
    }
}
