//! The import rules of both crates, read from the table under "Import rules" in ARCHITECTURE.md
//! and checked against every `.rs` file of `infra-gen/src` and `etl/src`, in the manner of
//! rust-analyzer's tidy tests: the document and the test are one fact, and a failure names the
//! file, line and import. A repository test, so it reads `../etl/src` as well.
//!
//! Every `use` tree and every `crate::`/`super::`/`self::` path (and the library's own name in a
//! binary) is resolved to the longest module it names; a folder module and its files are one
//! module. Code inside `#[cfg(test)] mod tests` is left out: a test may build its input with any
//! module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A module path inside a crate (`["lower", "monitoring", "alarms"]`).
type ModulePath = Vec<String>;

/// What an import names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A module of the same crate (the longest module prefix of the path).
    Module(ModulePath),
    /// A dependency crate.
    Extern(String),
}

impl Target {
    fn show(&self) -> String {
        match self {
            Self::Module(path) => path.join("::"),
            Self::Extern(name) => format!("extern {name}"),
        }
    }
}

/// One import found in a file.
#[derive(Debug)]
struct Import {
    line: usize,
    /// The source line, trimmed, as the failure shows it.
    text: String,
    target: Target,
}

/// One source file: where it is, the module it belongs to and the scope its relative paths
/// start from (the crate root for `lib.rs` and `main.rs`, which the rules call `lib` and `main`).
struct Source {
    shown: String,
    module: ModulePath,
    scope: ModulePath,
    text: String,
}

/// One crate's sources and modules.
struct Crate {
    name: &'static str,
    /// The library's name, as a binary's paths spell it (`etl::spec::Dataset`).
    lib: &'static str,
    sources: Vec<Source>,
    modules: BTreeSet<ModulePath>,
}

/// The repository root (this crate's parent folder).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

impl Crate {
    fn read(name: &'static str, lib: &'static str) -> Self {
        let src = repo().join(name).join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        paths.sort();
        let mut sources = Vec::new();
        for path in paths {
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: ModulePath = relative
                .components()
                .map(|c| c.as_os_str().to_str().unwrap().to_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            let root = module.len() == 1 && (module[0] == "lib" || module[0] == "main");
            sources.push(Source {
                shown: format!("{name}/src/{}", relative.with_extension("rs").display()),
                scope: if root { Vec::new() } else { module.clone() },
                module,
                text: std::fs::read_to_string(&path).unwrap(),
            });
        }
        let modules = sources.iter().map(|s| s.module.clone()).collect();
        Self {
            name,
            lib,
            sources,
            modules,
        }
    }

    /// What `path` (as written in `scope`) names: a module of this crate, one of `externs`, or
    /// nothing this test looks at (`std`, a local item, the crate root itself).
    fn resolve(&self, scope: &[String], path: &[&str], externs: &[String]) -> Option<Target> {
        let (mut full, rest): (ModulePath, &[&str]) = match path[0] {
            "crate" => (Vec::new(), &path[1..]),
            first if first == self.lib => (Vec::new(), &path[1..]),
            "self" => (scope.to_vec(), &path[1..]),
            "super" => {
                let mut base = scope.to_vec();
                let mut rest = path;
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            first if externs.iter().any(|e| e == first) => {
                return Some(Target::Extern(first.to_owned()));
            }
            first => {
                let mut child = scope.to_vec();
                child.push(first.to_owned());
                if !self.modules.contains(&child) {
                    return None;
                }
                (scope.to_vec(), path)
            }
        };
        full.extend(rest.iter().map(|s| (*s).to_owned()));
        (1..=full.len())
            .rev()
            .map(|n| full[..n].to_vec())
            .find(|prefix| self.modules.contains(prefix))
            .map(Target::Module)
    }

    /// Every import of `source` outside its test module.
    fn imports(&self, source: &Source, externs: &[String]) -> Vec<Import> {
        scan(&source.text)
            .into_iter()
            .filter_map(|(line, text, path)| {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                self.resolve(&source.scope, &path, externs)
                    .map(|target| Import { line, text, target })
            })
            .collect()
    }
}

/// The paths a source names outside `#[cfg(test)] mod ... { }`, with their line and its text:
/// each path of a `use` tree (even one spread over lines), and each `a::b` path elsewhere.
fn scan(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = code(lines[index]);
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" && lines.get(index + 1).is_some_and(|l| l.starts_with("mod "))
        {
            while index < lines.len() && lines[index] != "}" {
                index += 1;
            }
            index += 1;
            continue;
        }
        let shown = lines[index].trim().to_owned();
        if let Some(tree) = use_tree(trimmed) {
            let mut tree = tree.to_owned();
            let start = index;
            while !tree.contains(';') && index + 1 < lines.len() {
                index += 1;
                tree.push_str(code(lines[index]));
            }
            let mut paths = Vec::new();
            expand(tree.trim_end_matches(';'), &[], &mut paths);
            found.extend(paths.into_iter().map(|p| (start + 1, shown.clone(), p)));
        } else {
            found.extend(
                paths_in(line)
                    .into_iter()
                    .map(|p| (index + 1, shown.clone(), p)),
            );
        }
        index += 1;
    }
    found
}

/// A line without its `//` comment.
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

/// The tree of a `use` item (`pub(crate) use a::{b, c};` → `a::{b, c};`).
fn use_tree(line: &str) -> Option<&str> {
    let line = line.strip_prefix("pub").map_or(line, |rest| {
        rest.strip_prefix("(crate)")
            .or_else(|| rest.strip_prefix("(super)"))
            .unwrap_or(rest)
            .trim_start()
    });
    line.strip_prefix("use ")
}

/// Every full path of a `use` tree, after `prefix`; `self` in a group names the group's module.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let (head, group) = match (tree.find('{'), tree.rfind('}')) {
        (Some(open), Some(close)) => (&tree[..open], Some(&tree[open + 1..close])),
        _ => (tree, None),
    };
    let mut path = prefix.to_vec();
    for segment in head.split("::") {
        let segment = segment.split_whitespace().next().unwrap_or("");
        if !segment.is_empty() && segment != "*" && (segment != "self" || path.is_empty()) {
            path.push(segment.to_owned());
        }
    }
    let Some(group) = group else {
        if !path.is_empty() {
            out.push(path);
        }
        return;
    };
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&group[start..at], &path, out);
                start = at + 1;
            }
            _ => {}
        }
    }
    if !group[start..].trim().is_empty() {
        expand(&group[start..], &path, out);
    }
}

/// Each `a::b::c` path in a line of code (not a `::b` tail of a longer one).
fn paths_in(line: &str) -> Vec<Vec<String>> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let starts = (bytes[at].is_ascii_alphabetic() || bytes[at] == b'_')
            && (at == 0 || !(ident(bytes[at - 1]) || bytes[at - 1] == b':'));
        if !starts {
            at += 1;
            continue;
        }
        let mut segments = Vec::new();
        let mut end = at;
        loop {
            let start = end;
            while end < bytes.len() && ident(bytes[end]) {
                end += 1;
            }
            segments.push(line[start..end].to_owned());
            if line[end..].starts_with("::") && bytes.get(end + 2).is_some_and(|c| ident(*c)) {
                end += 2;
            } else {
                break;
            }
        }
        if segments.len() > 1 {
            found.push(segments);
        }
        at = end.max(at + 1);
    }
    found
}

/// `a::b`, `a::*` (each child of `a` on its own) or `*` (each top-level module), with the names
/// `but` excepts; or `extern name`.
#[derive(Debug)]
enum Selector {
    Modules {
        path: ModulePath,
        children: bool,
        but: BTreeSet<String>,
    },
    Extern(String),
}

impl Selector {
    /// The group `target` falls in (the module itself, or the child of `a` for `a::*`).
    fn group(&self, target: &Target) -> Option<ModulePath> {
        match (self, target) {
            (
                Self::Modules {
                    path,
                    children,
                    but,
                },
                Target::Module(module),
            ) => {
                if !module.starts_with(path) {
                    return None;
                }
                if !children {
                    return Some(path.clone());
                }
                let child = module.get(path.len())?;
                (!but.contains(child)).then(|| module[..=path.len()].to_vec())
            }
            (Self::Extern(name), Target::Extern(other)) => {
                (name == other).then(|| vec![format!("extern {name}")])
            }
            _ => None,
        }
    }
}

/// One row of the table.
#[derive(Debug)]
struct Rule {
    crates: Vec<&'static str>,
    subject: Selector,
    kind: String,
    targets: Vec<Selector>,
    /// The row as written, for the failure message.
    shown: String,
}

/// `a, b but c, d` → selectors for `a` and `b`, each excepting `c` and `d`.
fn selectors(cell: &str) -> Vec<Selector> {
    let (list, but) = cell.split_once(" but ").unwrap_or((cell, ""));
    let but: BTreeSet<String> = but
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    list.split(',')
        .map(str::trim)
        .map(|item| {
            if let Some(name) = item.strip_prefix("extern ") {
                return Selector::Extern(name.trim().to_owned());
            }
            let (path, children) = match item.strip_suffix("*") {
                Some(parent) => (parent.trim_end_matches("::"), true),
                None => (item, false),
            };
            Selector::Modules {
                path: path
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                children,
                but: but.clone(),
            }
        })
        .collect()
}

/// The rows of the table under `### Import rules` in ARCHITECTURE.md.
fn rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split_once("### Import rules")
        .expect("ARCHITECTURE.md has an Import rules section")
        .1;
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    rows.into_iter()
        .map(|row| {
            let cells: Vec<String> = row
                .trim_matches('|')
                .split('|')
                .map(|c| c.replace('`', "").trim().to_owned())
                .collect();
            assert_eq!(cells.len(), 5, "{row}");
            let crates = match cells[0].as_str() {
                "both" => vec!["infra-gen", "etl"],
                "infra-gen" => vec!["infra-gen"],
                "etl" => vec!["etl"],
                other => panic!("unknown crate {other} in {row}"),
            };
            let mut subject = selectors(&cells[1]);
            assert_eq!(subject.len(), 1, "one module per row: {row}");
            assert!(
                ["never", "only", "never both"].contains(&cells[2].as_str()),
                "unknown rule {} in {row}",
                cells[2]
            );
            Rule {
                crates,
                subject: subject.remove(0),
                kind: cells[2].clone(),
                targets: selectors(&cells[3]),
                shown: format!("{} {} {}", cells[1], cells[2], cells[3]),
            }
        })
        .collect()
}

/// The modules a selector names must exist, or a rename would make its rule silently vacuous (an
/// exception of a rule for both crates need exist in one only).
fn assert_names_exist(krate: &Crate, selector: &Selector, rule: &Rule) {
    let Selector::Modules { path, but, .. } = selector else {
        return;
    };
    assert!(
        path.is_empty() || krate.modules.contains(path),
        "ARCHITECTURE.md's import rule `{}` names `{}`, which is no module of {}",
        rule.shown,
        path.join("::"),
        krate.name
    );
    for name in but.iter().filter(|_| rule.crates.len() == 1) {
        let mut child = path.clone();
        child.push(name.clone());
        let top = krate.modules.contains(&vec![name.clone()]);
        assert!(
            krate.modules.contains(&child) || top,
            "ARCHITECTURE.md's import rule `{}` excepts `{name}`, which is no module of {}",
            rule.shown,
            krate.name
        );
    }
}

/// Every failure of the import rules in one crate, as `(allow-list key, message)`.
fn violations(krate: &Crate, rules: &[Rule]) -> Vec<String> {
    let externs: Vec<String> = rules
        .iter()
        .flat_map(|r| &r.targets)
        .filter_map(|t| match t {
            Selector::Extern(name) => Some(name.clone()),
            Selector::Modules { .. } => None,
        })
        .collect();
    let imports: Vec<(&Source, Vec<Import>)> = krate
        .sources
        .iter()
        .map(|s| (s, krate.imports(s, &externs)))
        .collect();
    let mut found = Vec::new();
    for rule in rules.iter().filter(|r| r.crates.contains(&krate.name)) {
        assert_names_exist(krate, &rule.subject, rule);
        for target in &rule.targets {
            assert_names_exist(krate, target, rule);
        }
        // The subject's groups, each with the imports that leave it.
        let mut groups: BTreeMap<ModulePath, Vec<(&Source, &Import)>> = BTreeMap::new();
        for (source, list) in &imports {
            let Some(group) = rule.subject.group(&Target::Module(source.module.clone())) else {
                continue;
            };
            let entry = groups.entry(group.clone()).or_default();
            for import in list {
                let inside = matches!(&import.target, Target::Module(m) if m.starts_with(&group));
                if !inside {
                    entry.push((source, import));
                }
            }
        }
        assert!(!groups.is_empty(), "rule `{}` matches no file", rule.shown);
        for leaving in groups.values() {
            let hit = |import: &Import| {
                rule.targets
                    .iter()
                    .any(|t| t.group(&import.target).is_some())
            };
            let bad: Vec<&(&Source, &Import)> = match rule.kind.as_str() {
                "never" => leaving.iter().filter(|(_, i)| hit(i)).collect(),
                "only" => leaving
                    .iter()
                    .filter(|(_, i)| matches!(i.target, Target::Module(_)) && !hit(i))
                    .collect(),
                _ => {
                    let all = rule
                        .targets
                        .iter()
                        .all(|t| leaving.iter().any(|(_, i)| t.group(&i.target).is_some()));
                    if all {
                        leaving.iter().filter(|(_, i)| hit(i)).collect()
                    } else {
                        Vec::new()
                    }
                }
            };
            for (source, import) in bad {
                found.push(format!(
                    "{}:{}: `{}` imports {}, but ARCHITECTURE.md says `{}`",
                    source.shown,
                    import.line,
                    import.text,
                    import.target.show(),
                    rule.shown
                ));
            }
        }
    }
    if let Some(cycle) = top_level_cycle(&imports) {
        found.push(format!(
            "{}: top-level modules in a cycle: {}",
            krate.name,
            cycle.join(" → ")
        ));
    }
    found
}

/// A cycle between top-level modules, through imports the allow-list does not excuse.
fn top_level_cycle(imports: &[(&Source, Vec<Import>)]) -> Option<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (source, list) in imports {
        for import in list {
            let Target::Module(target) = &import.target else {
                continue;
            };
            if target[0] != source.module[0] {
                edges
                    .entry(source.module[0].as_str())
                    .or_default()
                    .insert(target[0].as_str());
            }
        }
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, &edges, &mut Vec::new(), &mut done))
}

/// Depth-first search from `node` for a path back into `path`.
fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[at..].iter().map(|n| (*n).to_owned()).collect();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if !done.insert(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).into_iter().flatten() {
        if let Some(cycle) = visit(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn every_import_rule_of_architecture_md_holds_in_both_crates() {
    let rules = rules();
    assert!(rules.len() >= 15, "{rules:?}");
    let mut report = String::new();
    for krate in [
        Crate::read("infra-gen", "infra_gen"),
        Crate::read("etl", "etl"),
    ] {
        assert!(krate.sources.len() > 15, "{} has few files", krate.name);
        for message in violations(&krate, &rules) {
            writeln!(report, "{message}").unwrap();
        }
    }
    assert!(report.is_empty(), "import rules broken:\n{report}");
}

#[test]
fn the_scanner_sees_plain_grouped_relative_multiline_and_inline_paths() {
    let source = "use crate::lower::iam::allow;\n\
                  pub(crate) use crate::{lower::ctx::{Ctx, IAM}, tf::{self, Document}};\n\
                  let x = super::storage::lower_key(doc); // crate::not::this\n\
                  use crate::lower::ctx::{\n    BACKEND,\n    COMPUTE,\n};\n\
                  #[cfg(test)]\nmod tests {\n    use crate::hidden::Thing;\n}\n";
    let paths: Vec<(usize, String)> = scan(source)
        .into_iter()
        .map(|(line, _, path)| (line, path.join("::")))
        .collect();
    assert_eq!(
        paths,
        [
            (1, "crate::lower::iam::allow".to_owned()),
            (2, "crate::lower::ctx::Ctx".to_owned()),
            (2, "crate::lower::ctx::IAM".to_owned()),
            (2, "crate::tf".to_owned()),
            (2, "crate::tf::Document".to_owned()),
            (3, "super::storage::lower_key".to_owned()),
            (4, "crate::lower::ctx::BACKEND".to_owned()),
            (4, "crate::lower::ctx::COMPUTE".to_owned()),
        ]
    );
}
