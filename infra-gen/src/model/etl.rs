//! The `[etl]` table as the model holds it: which dataset runs, how often the listing sweep runs,
//! how many objects each `etl` process loads at once, the event queue it drains and the optional
//! worker fleet. Its own file because compute, events, monitoring and delivery all read it.

use crate::model::events::{EventQueue, Workers};

/// How and what the ETL runs on the host and the workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Etl {
    /// The dataset name from its spec (`name` in `data/events.toml`), the EMF `Dataset` value.
    pub dataset: String,
    /// Minutes between scheduled runs (the listing sweep): divides an hour or a day evenly.
    pub schedule_minutes: u32,
    /// Objects in flight per `etl` process (`ETL_JOBS`), each with its own database connection.
    pub jobs: u32,
    /// The event queue the host's queue service (and every worker) drains.
    pub queue: EventQueue,
    /// The worker fleet; `None` runs everything on the one host.
    pub workers: Option<Workers>,
}

impl Etl {
    /// Schedules the host timer can express without drift and an alarm can watch (CloudWatch
    /// evaluates at most one day for periods under an hour, seven days otherwise).
    pub const SCHEDULE_MINUTES: [u32; 19] = [
        1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440,
    ];

    /// The interval between runs in seconds.
    pub fn schedule_seconds(&self) -> u32 {
        self.schedule_minutes * 60
    }
}

#[cfg(test)]
mod tests {
    use crate::model::etl::Etl;
    use crate::model::events::EventQueue;

    #[test]
    fn every_schedule_fits_the_no_successful_run_alarm() {
        for schedule_minutes in Etl::SCHEDULE_MINUTES {
            let etl = Etl {
                dataset: "events".into(),
                schedule_minutes,
                jobs: 8,
                queue: EventQueue {
                    prefixes: vec!["raw/".into()],
                    suffix: None,
                    visibility_timeout_seconds: 300,
                    max_receive_count: 5,
                    retention_days: 4,
                },
                workers: None,
            };
            // The alarm looks at two schedule intervals.
            let range = 2 * etl.schedule_seconds();
            let limit = if etl.schedule_seconds() < 3600 {
                86_400
            } else {
                604_800
            };
            assert!(range <= limit, "{schedule_minutes}");
            assert!(1440 % schedule_minutes == 0 || 60 % schedule_minutes == 0);
        }
    }
}
