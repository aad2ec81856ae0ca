//! The CloudWatch agent's configuration file as typed data (the `agent`, `metrics` and `logs`
//! sections we use), serialized to the JSON the agent reads from its SSM parameter.
//!
//! Like [`tf`](crate::tf), this vocabulary knows nothing about the platform; lowering fills it
//! in. It also knows which dimensions the agent really attaches to what it publishes
//! ([`Config::published`]), because an alarm whose dimension set differs by one key from the
//! published one never leaves `INSUFFICIENT_DATA` — the classic silent alarm. The rules follow
//! the agent's documentation and source (`plugins/outputs/cloudwatch` roll-ups and
//! `translator/.../disk`): the `disk` plugin tags every point with `path`, `fstype` and `device`
//! (`drop_device` removes `device`); global `append_dimensions` are added to every metric and
//! suppress the `host` dimension; each `aggregation_dimensions` set that is a strict subset of a
//! metric's dimensions is published in addition, and `drop_original_metrics` then suppresses
//! the unaggregated series.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A whole agent configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Agent-wide settings.
    pub agent: Agent,
    /// Host metrics.
    pub metrics: Metrics,
    /// Log files to ship.
    pub logs: Logs,
}

/// The `agent` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Default collection interval in seconds.
    pub metrics_collection_interval: u32,
    /// Where the agent logs about itself.
    pub logfile: String,
    /// Whether the agent sends its own usage statistics to AWS.
    pub usage_data: bool,
}

/// The `metrics` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Namespace of every metric.
    pub namespace: String,
    /// Dimensions added to every metric, e.g. `InstanceId` → `${aws:InstanceId}`.
    pub append_dimensions: BTreeMap<String, String>,
    /// Extra, reduced dimension sets to publish.
    pub aggregation_dimensions: Vec<Vec<String>>,
    /// The plugins.
    pub metrics_collected: MetricsCollected,
}

/// The plugins we use; each is optional in the agent's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsCollected {
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mem: Option<Plugin>,
    /// Filesystems.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disk: Option<Disk>,
    /// Swap.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub swap: Option<Plugin>,
}

/// A plugin without extra options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    /// Measurements without the plugin prefix, e.g. `used_percent`.
    pub measurement: Vec<String>,
    /// Collection interval in seconds.
    pub metrics_collection_interval: u32,
}

/// The `disk` plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Measurements without the plugin prefix.
    pub measurement: Vec<String>,
    /// Collection interval in seconds.
    pub metrics_collection_interval: u32,
    /// Mount points to report (exact paths).
    pub resources: Vec<String>,
    /// Leave out the `device` dimension.
    pub drop_device: bool,
    /// Full metric names (e.g. `disk_used_percent`) whose unaggregated series is not sent.
    pub drop_original_metrics: Vec<String>,
}

/// The `logs` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Sources.
    pub logs_collected: LogsCollected,
}

/// Log sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsCollected {
    /// Plain files.
    pub files: Files,
}

/// File sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// One entry per file or glob.
    pub collect_list: Vec<LogFile>,
}

/// One log file (or glob) shipped into a log group. No `retention_in_days`: Terraform owns
/// the groups, their retention and encryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// Path or glob.
    pub file_path: String,
    /// Destination log group.
    pub log_group_name: String,
    /// Stream name; `{instance_id}` is replaced by the agent.
    pub log_stream_name: String,
    /// Timestamps are read in UTC.
    pub timezone: String,
}

/// One metric series shape the agent publishes: namespace, metric name, dimension names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Published {
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub metric: String,
    /// Dimension names, sorted.
    pub dimensions: BTreeSet<String>,
}

/// One plugin's measurements with the dimensions the plugin itself adds.
struct Source<'a> {
    plugin: &'static str,
    measurements: &'a [String],
    tags: Vec<&'static str>,
    dropped: &'a [String],
}

impl<'a> Source<'a> {
    /// A plugin that adds no dimensions of its own (mem, swap).
    fn plain(plugin: &'static str, p: &'a Plugin) -> Self {
        Self {
            plugin,
            measurements: &p.measurement,
            tags: Vec::new(),
            dropped: &[],
        }
    }
}

impl Config {
    /// Every (namespace, metric, dimension set) the agent publishes with this configuration.
    pub fn published(&self) -> BTreeSet<Published> {
        let collected = &self.metrics.metrics_collected;
        let mut sources = Vec::new();
        sources.extend(collected.mem.as_ref().map(|p| Source::plain("mem", p)));
        sources.extend(collected.swap.as_ref().map(|p| Source::plain("swap", p)));
        if let Some(disk) = &collected.disk {
            let mut tags = vec!["path", "fstype"];
            if !disk.drop_device {
                tags.push("device");
            }
            sources.push(Source {
                plugin: "disk",
                measurements: &disk.measurement,
                tags,
                dropped: &disk.drop_original_metrics,
            });
        }
        let mut out = BTreeSet::new();
        for source in sources {
            for measurement in source.measurements {
                let metric = if measurement.starts_with(&format!("{}_", source.plugin)) {
                    measurement.clone()
                } else {
                    format!("{}_{measurement}", source.plugin)
                };
                let mut raw: BTreeSet<String> =
                    source.tags.iter().map(|t| (*t).to_owned()).collect();
                if self.metrics.append_dimensions.is_empty() {
                    raw.insert("host".into());
                }
                raw.extend(self.metrics.append_dimensions.keys().cloned());
                let mut sets = Vec::new();
                for rollup in &self.metrics.aggregation_dimensions {
                    let rollup: BTreeSet<String> = rollup.iter().cloned().collect();
                    if rollup.len() < raw.len() && rollup.is_subset(&raw) {
                        sets.push(rollup);
                    }
                }
                if !source.dropped.contains(&metric) {
                    sets.push(raw);
                }
                for dimensions in sets {
                    out.insert(Published {
                        namespace: self.metrics.namespace.clone(),
                        metric: metric.clone(),
                        dimensions,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::agent::{
        Agent, Config, Disk, Files, Logs, LogsCollected, Metrics, MetricsCollected, Plugin,
    };

    fn config(append: &[&str], rollups: &[&[&str]], drop_original: bool) -> Config {
        Config {
            agent: Agent {
                metrics_collection_interval: 60,
                logfile: String::new(),
                usage_data: false,
            },
            metrics: Metrics {
                namespace: "CWAgent".into(),
                append_dimensions: append
                    .iter()
                    .map(|d| ((*d).to_owned(), format!("${{aws:{d}}}")))
                    .collect::<BTreeMap<_, _>>(),
                aggregation_dimensions: rollups
                    .iter()
                    .map(|r| r.iter().map(|d| (*d).to_owned()).collect())
                    .collect(),
                metrics_collected: MetricsCollected {
                    mem: Some(Plugin {
                        measurement: vec!["used_percent".into()],
                        metrics_collection_interval: 60,
                    }),
                    disk: Some(Disk {
                        measurement: vec!["used_percent".into()],
                        metrics_collection_interval: 60,
                        resources: vec!["/".into()],
                        drop_device: true,
                        drop_original_metrics: if drop_original {
                            vec!["disk_used_percent".into()]
                        } else {
                            Vec::new()
                        },
                    }),
                    swap: None,
                },
            },
            logs: Logs {
                logs_collected: LogsCollected {
                    files: Files {
                        collect_list: Vec::new(),
                    },
                },
            },
        }
    }

    fn shapes(c: &Config) -> Vec<(String, Vec<String>)> {
        c.published()
            .into_iter()
            .map(|p| (p.metric, p.dimensions.into_iter().collect()))
            .collect()
    }

    #[test]
    fn disk_metrics_carry_path_and_fstype_unless_rolled_up_and_dropped() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            shapes(&config(&["InstanceId"], &[], false)),
            [
                (
                    "disk_used_percent".into(),
                    s(&["InstanceId", "fstype", "path"])
                ),
                ("mem_used_percent".into(), s(&["InstanceId"])),
            ]
        );
        assert_eq!(
            shapes(&config(&[], &[], false)),
            [
                ("disk_used_percent".into(), s(&["fstype", "host", "path"])),
                ("mem_used_percent".into(), s(&["host"])),
            ]
        );
        // The roll-up to InstanceId is not made for mem (not a strict subset), so dropping
        // originals must only ever name disk metrics.
        assert_eq!(
            shapes(&config(&["InstanceId"], &[&["InstanceId"]], true)),
            [
                ("disk_used_percent".into(), s(&["InstanceId"])),
                ("mem_used_percent".into(), s(&["InstanceId"])),
            ]
        );
    }

    #[test]
    fn the_json_round_trips_through_the_typed_config() {
        let c = config(&["InstanceId"], &[&["InstanceId"]], true);
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains(r#""append_dimensions":{"InstanceId":"${aws:InstanceId}"}"#));
        let back: Config = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            back.published().len(),
            BTreeSet::from(["disk", "mem"]).len()
        );
    }
}
