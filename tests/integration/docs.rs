//! The documents a contributor reads must not drift from the code: the README (examples,
//! flags), docs/contract.md (tables generated from the code), ARCHITECTURE.md (names that
//! exist), and every citation of a document's section (issue 23).

use std::fmt::Write as _;

use clap::CommandFactory;

use crate::support::root;

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

#[test]
fn the_readme_starts_with_the_demo_and_the_test_command() {
    let text = readme();
    let first_block = text.split("```sh").nth(1).unwrap();
    assert!(first_block.contains("scripts/demo.sh"));
    assert!(first_block.contains("scripts/test.sh"));
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("bash scripts/test.sh"),
        "CI runs the README's test command"
    );
}

#[test]
fn the_readme_shows_the_pr_preview_example_as_it_is() {
    let example = std::fs::read_to_string(root().join("examples/pr-preview.yml")).unwrap();
    assert!(
        readme().contains(example.trim_end()),
        "README's copy of examples/pr-preview.yml differs from the file"
    );
}

#[test]
fn the_readme_documents_every_deploy_flag() {
    let text = readme();
    let cmd = deploy_action::cli::Cli::command();
    let deploy = cmd.find_subcommand("deploy").unwrap();
    let mut missing = Vec::new();
    for arg in deploy.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version" | "bin") {
            continue;
        }
        if !text.contains(&format!("`{long}`")) && !text.contains(&format!("--{long}")) {
            missing.push(long.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "flags missing from the README: {missing:?}"
    );
}

/// The README's settings file example is a file deploy-action accepts (issue 17).
#[test]
fn the_readme_settings_example_is_valid() {
    let text = readme();
    let section = text
        .split("## Settings file")
        .nth(1)
        .expect("README has a \"Settings file\" section");
    let example = section
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section shows a TOML example");
    deploy_action::settings::check_text("deploy-action.toml", example)
        .unwrap_or_else(|e| panic!("README's settings example is refused: {e}"));
    assert!(text.contains("## Coming from zappa") && text.contains("deploy-action import zappa"));
}

// ---------------------------------------------------------------------------------------------
// docs/contract.md: the tables that restate the code are generated from it (issue 23).
//
// A generated region is `<!-- generated:NAME -->` ... `<!-- /generated -->`. The check fails when
// a region differs from what the code says; `DEPLOY_ACTION_BLESS=1 cargo test --test integration
// docs::` rewrites every region from the code instead. Flags come from clap itself
// (`Cli::command()`, every subcommand at any depth, so a command added later gets its table with
// no change here), the JSON fields from the report structs' source in src/output.rs, action
// inputs from action.yml and settings keys from `settings::is_key`.

const CONTRACT: &str = "docs/contract.md";
const BLESS_VAR: &str = "DEPLOY_ACTION_BLESS";
const REGENERATE: &str = "DEPLOY_ACTION_BLESS=1 cargo test --test integration docs::";
/// The report structs whose JSON fields the contract lists, by region name.
const REPORTS: &[(&str, &str)] = &[
    ("json:deploy", "DeployReport"),
    ("json:package", "PackageReport"),
    ("json:teardown", "TeardownReport"),
    ("json:skip", "SkipReport"),
];

/// Subcommands that never read the settings file (`settings::NOT_READ`: `import` writes it).
const NO_SETTINGS: &[&str] = &["import", "help"];

/// Escape text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// What `action.yml` declares: input names, and output descriptions by name.
struct ActionDecl {
    inputs: std::collections::BTreeSet<String>,
    outputs: std::collections::BTreeMap<String, String>,
}

fn action_decl() -> ActionDecl {
    #[derive(serde::Deserialize)]
    struct Action {
        inputs: std::collections::BTreeMap<String, serde_yaml_ng::Value>,
        outputs: std::collections::BTreeMap<String, ActionOutput>,
    }
    #[derive(serde::Deserialize)]
    struct ActionOutput {
        description: String,
    }
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let action: Action = serde_yaml_ng::from_str(&text).unwrap();
    ActionDecl {
        inputs: action.inputs.into_keys().collect(),
        outputs: action
            .outputs
            .into_iter()
            .map(|(k, v)| (k, v.description))
            .collect(),
    }
}

/// `--flag VALUE` as `--help` shows it.
fn flag_usage(arg: &clap::Arg, long: &str) -> String {
    let takes_value = !matches!(
        arg.get_action(),
        clap::ArgAction::SetTrue
            | clap::ArgAction::SetFalse
            | clap::ArgAction::Count
            | clap::ArgAction::Help
            | clap::ArgAction::HelpShort
            | clap::ArgAction::HelpLong
            | clap::ArgAction::Version
    );
    if !takes_value {
        return format!("`--{long}`");
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let value = if values.is_empty() {
        arg.get_value_names()
            .map(|names| {
                names
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| long.to_uppercase().replace('-', "_"))
    } else {
        values.join("|")
    };
    let repeat = if matches!(arg.get_action(), clap::ArgAction::Append) {
        " (repeatable)"
    } else {
        ""
    };
    format!("`--{long} {}`{repeat}", cell(&value))
}

/// One table per subcommand, at any depth, in clap's order.
fn flags_region() -> String {
    fn walk(cmd: &clap::Command, path: &str, action: &ActionDecl, out: &mut String) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let path = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            let top = path.split(' ').next().unwrap_or_default();
            let _ = writeln!(out, "### `{path}`\n");
            if let Some(about) = sub.get_about() {
                let _ = writeln!(out, "{about}\n");
            }
            let args: Vec<&clap::Arg> = sub
                .get_arguments()
                .filter(|a| a.get_long().is_some() && !a.is_hide_set())
                .filter(|a| !matches!(a.get_long(), Some("help" | "version")))
                .collect();
            let positionals: Vec<&clap::Arg> = sub.get_positionals().collect();
            if args.is_empty() && positionals.is_empty() {
                let _ = writeln!(out, "No flags.\n");
            } else {
                out.push_str(
                    "| flag | variable | action input | settings key | default | what it does |\n\
                     |---|---|---|---|---|---|\n",
                );
                for arg in positionals {
                    let name = arg
                        .get_value_names()
                        .and_then(|n| n.first().map(ToString::to_string))
                        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "| `{name}` (argument) | — | — | — | — | {} |",
                        cell(&help)
                    );
                }
                for arg in args {
                    let long = arg.get_long().unwrap();
                    let env = arg
                        .get_env()
                        .map_or_else(|| "—".into(), |e| format!("`{}`", e.to_string_lossy()));
                    let input = if action.inputs.contains(long) {
                        format!("`{long}`")
                    } else {
                        "—".into()
                    };
                    let refused = deploy_action::settings::REFUSED
                        .iter()
                        .any(|(k, _)| *k == long);
                    let key = if !NO_SETTINGS.contains(&top)
                        && !refused
                        && deploy_action::settings::is_key(long)
                    {
                        format!("`{long}`")
                    } else {
                        "—".into()
                    };
                    let is_switch = matches!(
                        arg.get_action(),
                        clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
                    );
                    let defaults: Vec<String> = arg
                        .get_default_values()
                        .iter()
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect();
                    let default = if is_switch || defaults.is_empty() {
                        "—".to_string()
                    } else {
                        format!("`{}`", cell(&defaults.join(", ")))
                    };
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "| {} | {env} | {input} | {key} | {default} | {} |",
                        flag_usage(arg, long),
                        cell(&help)
                    );
                }
                out.push('\n');
            }
            walk(sub, &path, action, out);
        }
    }
    let mut cli = deploy_action::cli::Cli::command();
    cli.build();
    let mut out = String::new();
    walk(&cli, "", &action_decl(), &mut out);
    out
}

/// The commands, from clap.
fn commands_region() -> String {
    let mut cli = deploy_action::cli::Cli::command();
    cli.build();
    let mut out = String::from("| command | what it does |\n|---|---|\n");
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(out, "| `{}` | {} |", sub.get_name(), cell(&about));
    }
    out
}

/// A field of a report struct, read from its source.
struct Field {
    name: String,
    ty: String,
    doc: String,
}

/// The fields of `pub struct NAME` in src/output.rs, in order, with their doc comments and the
/// serde attributes that change the JSON (`rename`, `skip`, `skip_serializing_if`). Fails on
/// any other serde attribute, so nothing changes the JSON behind the contract's back.
fn struct_fields(name: &str) -> Vec<Field> {
    let source = std::fs::read_to_string(root().join("src/output.rs")).unwrap();
    fields_in(&source, name)
}

fn fields_in(source: &str, name: &str) -> Vec<Field> {
    let start = format!("pub struct {name} {{");
    let body = source
        .split_once(&start)
        .unwrap_or_else(|| panic!("src/output.rs has no `{start}`"))
        .1;
    let body = body.split_once("\n}").unwrap().0;
    let rename = regex::Regex::new(r#"rename\s*=\s*"([^"]+)""#).unwrap();
    let mut fields = Vec::new();
    let mut doc = Vec::new();
    let (mut renamed, mut skip, mut omitted) = (None, false, false);
    let mut flatten = false;
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_string());
        } else if let Some(attr) = line.strip_prefix("#[serde(") {
            if let Some(m) = rename.captures(attr) {
                renamed = Some(m[1].to_string());
            } else if attr.starts_with("flatten") {
                flatten = true;
            } else if attr.starts_with("skip_serializing_if") {
                omitted = true;
            } else if attr.starts_with("skip") {
                skip = true;
            } else {
                panic!("{name}: a serde attribute the contract generator doesn't read: {line}");
            }
        } else if let Some(rest) = line.strip_prefix("pub ") {
            let (field, ty) = rest.split_once(':').unwrap();
            let mut ty = ty.trim().trim_end_matches(',').to_string();
            if omitted {
                ty.push_str(" (left out when empty)");
            }
            if flatten {
                // The flattened struct's fields stand in the JSON as if they were this one's.
                fields.extend(fields_in(source, ty.trim()));
            } else if !skip {
                fields.push(Field {
                    name: renamed.take().unwrap_or_else(|| field.trim().to_string()),
                    ty,
                    doc: doc.join(" "),
                });
            }
            doc.clear();
            (renamed, skip, omitted, flatten) = (None, false, false, false);
        }
    }
    fields
}

/// The JSON type a Rust field type serialises to.
fn json_type(ty: &str) -> String {
    if let Some(base) = ty.strip_suffix(" (left out when empty)") {
        return format!("{}, left out when empty", json_type(base));
    }
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        return format!("{} or null", json_type(inner));
    }
    match ty.rsplit("::").next().unwrap_or(ty) {
        "String" | "PathBuf" | "str" => "string".into(),
        "bool" => "boolean".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" | "f64" => "number".into(),
        "Architecture" => "string (`arm64` or `x86_64`)".into(),
        other => format!("`{other}`"),
    }
}

/// A report's JSON fields with their `GITHUB_OUTPUT` names. The description is the field's doc
/// comment, else the action output's description.
fn report_region(name: &str) -> String {
    let outputs = action_decl().outputs;
    let mut out =
        String::from("| JSON field | type | `GITHUB_OUTPUT` name | meaning |\n|---|---|---|---|\n");
    for field in struct_fields(name) {
        let dashed = field.name.replace('_', "-");
        let doc = if field.doc.is_empty() {
            outputs.get(&dashed).cloned().unwrap_or_default()
        } else {
            field.doc
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{dashed}` | {} |",
            field.name,
            json_type(&field.ty),
            cell(doc.trim())
        );
    }
    out
}

/// What a generated region holds, by name; `None` for a name nothing generates.
fn generate(name: &str) -> Option<String> {
    if name == "flags" {
        return Some(flags_region());
    }
    if name == "commands" {
        return Some(commands_region());
    }
    REPORTS
        .iter()
        .find(|(region, _)| *region == name)
        .map(|(_, ty)| report_region(ty))
}

/// The document with every generated region replaced by what the code says, and the names of
/// the regions found.
fn regenerate(text: &str) -> (String, Vec<String>) {
    let open = regex::Regex::new(r"<!-- generated:([a-z0-9:_-]+) -->\n").unwrap();
    let close = "<!-- /generated -->";
    let mut out = String::new();
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(m) = open.captures(rest) {
        let whole = m.get(0).unwrap();
        let name = m[1].to_string();
        out.push_str(&rest[..whole.end()]);
        let after = &rest[whole.end()..];
        let end = after
            .find(close)
            .unwrap_or_else(|| panic!("{CONTRACT}: region {name} has no {close}"));
        let body = generate(&name)
            .unwrap_or_else(|| panic!("{CONTRACT}: nothing generates a region named {name:?}"));
        out.push('\n');
        out.push_str(&body);
        if !body.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(close);
        rest = &after[end + close.len()..];
        names.push(name);
    }
    out.push_str(rest);
    (out, names)
}

#[test]
fn the_contract_tables_match_the_code() {
    let path = root().join(CONTRACT);
    let text = std::fs::read_to_string(&path).unwrap();
    let (fresh, names) = regenerate(&text);
    let mut expected: Vec<&str> = vec!["commands", "flags"];
    expected.extend(REPORTS.iter().map(|(region, _)| *region));
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "{CONTRACT} has no `<!-- generated:{name} -->` region"
        );
    }
    if std::env::var_os(BLESS_VAR).is_some() {
        if fresh != text {
            std::fs::write(&path, &fresh).unwrap();
        }
        return;
    }
    if fresh != text {
        let first = text
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| text.lines().count().min(fresh.lines().count()));
        let doc = text.lines().nth(first).unwrap_or("(end of file)");
        let code = fresh.lines().nth(first).unwrap_or("(end of file)");
        panic!(
            "{CONTRACT} differs from the code at line {}:\n  document: {doc}\n  code:     {code}\n\
             Regenerate the marked tables with:\n  {REGENERATE}",
            first + 1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Citations: comments cite the repository's own documents by section name,
// `docs/contract.md, "Function URL"` (issue 23). `scripts/dev/cite-contract.py` rewrote the old
// citations of a design document outside the repository; this keeps every citation resolvable.

/// The design document that once lived outside the repository (spelt so this file doesn't cite it).
const OUTSIDE: &str = concat!("design", ".md");

/// Where citations may appear (as `scripts/dev/cite-contract.py` searches).
const CITING: &[&str] = &[
    "src",
    "tests",
    "action",
    "scripts",
    "bench",
    ".github",
    ".ci",
    "examples",
    "fixtures",
    "docs",
    "action.yml",
    "README.md",
    "ARCHITECTURE.md",
];

/// Text files under `CITING`, relative to the root.
fn citing_files() -> Vec<(String, String)> {
    let root = root();
    let mut out = Vec::new();
    for place in CITING {
        for entry in walkdir::WalkDir::new(root.join(place))
            .into_iter()
            .filter_entry(|e| {
                !matches!(
                    e.file_name().to_str(),
                    Some("target" | "node_modules" | ".venv" | "__pycache__")
                )
            })
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
        {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let rel = entry
                .path()
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, text));
        }
    }
    out
}

/// The headings of a Markdown file, without the `#`s.
fn headings(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            out.push(line[hashes..].trim().to_string());
        }
    }
    out
}

#[test]
fn every_cited_document_and_section_exists() {
    let cite = regex::Regex::new(
        r#"(?P<file>[A-Za-z0-9_./-]+\.md), (?P<names>"[^"\n]+"(?: and "[^"\n]+")*)"#,
    )
    .unwrap();
    let name = regex::Regex::new(r#""([^"\n]+)""#).unwrap();
    let mut problems = Vec::new();
    let mut cited = 0;
    for (rel, text) in citing_files() {
        if text.contains(OUTSIDE) && rel != "scripts/dev/cite-contract.py" {
            problems.push(format!(
                "{rel} cites {OUTSIDE}, which is not in this repository: run python3 scripts/dev/cite-contract.py"
            ));
        }
        for (n, line) in text.lines().enumerate() {
            for m in cite.captures_iter(line) {
                let file = &m["file"];
                // A citation names a file from the root; inside Markdown, from its directory.
                let path = root().join(file);
                let Ok(doc) = std::fs::read_to_string(&path) else {
                    problems.push(format!(
                        "{rel}:{}: cites {file}, which does not exist",
                        n + 1
                    ));
                    continue;
                };
                let heads = headings(&doc);
                for section in name.captures_iter(&m["names"]) {
                    cited += 1;
                    if !heads.iter().any(|h| h == &section[1]) {
                        problems.push(format!(
                            "{rel}:{}: cites section {:?} of {file}, which has no such heading",
                            n + 1,
                            &section[1]
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "unresolvable citations:\n  {}",
        problems.join("\n  ")
    );
    assert!(
        cited > 20,
        "found only {cited} citations: is the pattern still right?"
    );
}

/// Relative links in the documents a contributor reads first point at files that exist.
#[test]
fn links_in_the_documents_resolve() {
    let link = regex::Regex::new(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)").unwrap();
    let mut problems = Vec::new();
    for doc in [
        "README.md",
        "ARCHITECTURE.md",
        CONTRACT,
        "tests/support/README.md",
    ] {
        let path = root().join(doc);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let dir = path.parent().unwrap();
        for m in link.captures_iter(&text) {
            let target = &m["target"];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !dir.join(target).exists() {
                problems.push(format!("{doc} links {target}, which does not exist"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
}

/// What ARCHITECTURE.md names exists: every path in backticks is a file or directory, every
/// `module::item` an item defined in src/ or tests/.
#[test]
fn the_architecture_names_only_what_exists() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let ticked = regex::Regex::new(r"`([^`\n]+)`").unwrap();
    let sources: Vec<String> = ["src", "tests"]
        .iter()
        .flat_map(|d| walkdir::WalkDir::new(root().join(d)))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    // Every name defined anywhere, collected in one pass (a regex per name is slow in debug).
    let def = regex::Regex::new(
        r"(?m)(?:\b(?:fn|struct|enum|const|static|mod|trait|type)\s+(\w+)|^\s*(\w+)\s*[,({])",
    )
    .unwrap();
    let mut names: std::collections::BTreeSet<String> = ["lib", "crate"].map(String::from).into();
    for source in &sources {
        for c in def.captures_iter(source) {
            names.extend(c.get(1).or(c.get(2)).map(|m| m.as_str().to_string()));
        }
    }
    let defined = |name: &str| names.contains(name);
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in ticked.captures_iter(&text) {
        let item = m[1].trim_end_matches("()");
        if item.contains("::") && !item.starts_with("::") && !item.contains([' ', '*']) {
            checked += 1;
            for segment in item.split("::") {
                if !defined(segment) {
                    problems.push(format!("`{item}`: nothing named {segment} is defined"));
                }
            }
        } else if (item.starts_with("src/")
            || item.starts_with("tests/")
            || item.starts_with("docs/")
            || item.starts_with("fixtures/")
            || item.starts_with("bench/")
            || item.starts_with("action"))
            && !item.contains(' ')
        {
            checked += 1;
            if !root().join(item.trim_end_matches('/')).exists() {
                problems.push(format!("`{item}` does not exist"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md names what isn't there:\n  {}",
        problems.join("\n  ")
    );
    assert!(
        checked > 30,
        "checked only {checked} names: is the pattern still right?"
    );
}

/// The field reader understands the serde attributes a report may gain (a later field that is
/// left out when empty, a renamed or skipped one).
#[test]
fn the_report_field_reader_follows_serde_attributes() {
    let source = r#"
pub struct Sample {
    pub app: String,
    /// Where users go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(rename = "kind")]
    pub what: bool,
    #[serde(skip)]
    pub internal: u64,
}
"#;
    let fields = fields_in(source, "Sample");
    let seen: Vec<(String, String, String)> = fields
        .into_iter()
        .map(|f| (f.name, json_type(&f.ty), f.doc))
        .collect();
    assert_eq!(
        seen,
        [
            ("app".into(), "string".into(), String::new()),
            (
                "domain".into(),
                "string or null, left out when empty".into(),
                "Where users go.".into()
            ),
            ("kind".into(), "boolean".into(), String::new()),
        ]
    );
}
