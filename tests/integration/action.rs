//! Drift between `action.yml` and the CLI (issue 5): the action's inputs are the CLI's flags
//! under the same kebab-case names, with the same defaults, passed as the same `DEPLOY_*`
//! variables; its outputs are what the binary writes. Flags come from clap itself
//! (`Cli::command()`), outputs from a real deploy against moto, so neither side is restated here.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use deploy_action::cli::Cli;
use serde::Deserialize;

use crate::support::{BUCKET, World, root};

/// The commands whose every flag must be reachable from the action. `policy` and `serve` are
/// for terminals (policy prints IAM documents for a human to apply; serve runs locally), so
/// their own flags need no input, but an input may still map to one of them (`port`).
const ACTION_COMMANDS: &[&str] = &[
    "deploy", "teardown", "rollback", "promote", "status", "package",
];

/// Flags of `ACTION_COMMANDS` that deliberately have no input, with the reason.
const NO_INPUT: &[(&str, &str)] = &[
    // clap's own flags.
    ("help", "clap's --help"),
    ("version", "clap's --version"),
];

/// Commands the action does not run, with the reason.
const TERMINAL_ONLY: &[(&str, &str)] = &[(
    "import",
    "writes deploy-action.toml and a workflow into the repository: run once in a terminal and commit",
)];

/// Inputs whose default differs from the CLI's on purpose, with the reason.
const DEFAULT_EXCEPTIONS: &[(&str, &str)] = &[(
    "github-token",
    "the action passes the job's token (`${{ github.token }}`); the CLI's fallback is the \
     GITHUB_TOKEN variable, which holds the same token in a workflow",
)];

#[derive(Debug, Deserialize)]
struct ActionYml {
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, Output>,
    runs: Runs,
}

#[derive(Debug, Deserialize)]
struct Input {
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Output {
    description: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Step {
    id: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn action_yml() -> ActionYml {
    let path = root().join("action.yml");
    let text = std::fs::read_to_string(&path).expect("action.yml");
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What clap knows about one flag in one command.
#[derive(Debug, Clone)]
struct Flag {
    command: String,
    env: Option<String>,
    /// Joined default values; `None` when the flag has none.
    default: Option<String>,
    /// A switch (`--force`), set by its presence.
    switch: bool,
}

/// Every long flag of every subcommand, by flag name.
fn cli_flags() -> BTreeMap<String, Vec<Flag>> {
    let mut cli = Cli::command();
    // Building fills in what clap derives: the switches' "false" default, --help, --version.
    cli.build();
    let mut flags: BTreeMap<String, Vec<Flag>> = BTreeMap::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else {
                continue;
            };
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            flags.entry(long.to_string()).or_default().push(Flag {
                command: sub.get_name().to_string(),
                env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                default: (!defaults.is_empty()).then(|| defaults.join("\n")),
                switch: matches!(
                    arg.get_action(),
                    clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
                ),
            });
        }
    }
    flags
}

fn env_name(input: &str) -> String {
    format!("DEPLOY_{}", input.to_uppercase().replace('-', "_"))
}

fn run_step(action: &ActionYml) -> &Step {
    action
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("run"))
        .expect("action.yml has a step with id `run`")
}

#[track_caller]
fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn every_input_is_a_cli_flag_passed_as_its_deploy_variable() {
    let action = action_yml();
    assert_eq!(action.runs.using, "composite");
    let flags = cli_flags();
    let run = run_step(&action);
    let mut problems = Vec::new();
    for (name, input) in &action.inputs {
        if input.description.trim().is_empty() {
            problems.push(format!("input {name} has no description"));
        }
        if input.required {
            problems.push(format!(
                "input {name} is required; every input must be optional (the CLI validates)"
            ));
        }
        if name == "command" {
            continue;
        }
        let Some(defs) = flags.get(name) else {
            problems.push(format!(
                "input {name} is no flag of any command: there is no --{name} in `deploy-action --help`"
            ));
            continue;
        };
        let var = env_name(name);
        for flag in defs {
            if flag.env.as_deref() != Some(var.as_str()) {
                problems.push(format!(
                    "--{name} of `{}` reads {:?}, but the action passes input {name} as {var}",
                    flag.command, flag.env
                ));
            }
        }
        let expected = format!("${{{{ inputs.{name} }}}}");
        if run.env.get(&var) != Some(&expected) {
            problems.push(format!(
                "the run step must set {var}: {expected}, found {:?}",
                run.env.get(&var)
            ));
        }
    }
    // Nothing else reaches the binary as DEPLOY_*: a stray variable would set a flag that no
    // input controls.
    for var in run.env.keys() {
        if var.starts_with("DEPLOY_")
            && !var.starts_with("DEPLOY_ACTION_")
            && !action
                .inputs
                .keys()
                .any(|n| n != "command" && env_name(n) == *var)
        {
            problems.push(format!("the run step sets {var}, which is no input"));
        }
    }
    assert_eq!(
        run.env.get("INPUT_COMMAND").map(String::as_str),
        Some("${{ inputs.command }}")
    );
    assert_no_problems("action.yml inputs drifted from the CLI", &problems);
}

#[test]
fn every_flag_of_the_action_commands_has_an_input() {
    let action = action_yml();
    let mut problems = Vec::new();
    for (name, defs) in cli_flags() {
        let commands: Vec<&str> = defs
            .iter()
            .map(|f| f.command.as_str())
            .filter(|c| ACTION_COMMANDS.contains(c))
            .collect();
        if commands.is_empty()
            || action.inputs.contains_key(&name)
            || NO_INPUT.iter().any(|(n, _)| *n == name)
        {
            continue;
        }
        problems.push(format!(
            "--{name} (of {}) has no input in action.yml; add one, or list it in NO_INPUT with the reason",
            commands.join(", ")
        ));
    }
    // An allow-list entry that no longer names a flag without input is stale.
    let flags = cli_flags();
    for (name, _) in NO_INPUT {
        if !flags.contains_key(*name) || action.inputs.contains_key(*name) {
            problems.push(format!("NO_INPUT lists {name}, which is no longer needed"));
        }
    }
    assert_no_problems("CLI flags without an action input", &problems);
}

#[test]
fn input_defaults_are_the_cli_defaults() {
    let action = action_yml();
    let flags = cli_flags();
    let mut problems = Vec::new();
    for (name, input) in &action.inputs {
        let Some(defs) = flags.get(name) else {
            continue;
        };
        if DEFAULT_EXCEPTIONS.iter().any(|(n, _)| n == name) {
            continue;
        }
        let input_default = input.default.clone().unwrap_or_default();
        // The action writes "" for "not set" (run.sh drops it) and "false" for an unset switch
        // (run.sh drops that too); clap's default for a switch is "false".
        let cli_defaults: BTreeSet<String> = defs
            .iter()
            .map(|f| f.default.clone().unwrap_or_default())
            .collect();
        let per_command = || {
            defs.iter()
                .map(|f| format!("{} {:?}", f.command, f.default.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if cli_defaults.len() == 1 {
            // One default everywhere: the input shows it.
            if !cli_defaults.contains(&input_default) {
                problems.push(format!(
                    "input {name} defaults to {input_default:?}, but --{name} defaults to {}",
                    per_command()
                ));
            }
        } else if !input_default.is_empty() {
            // Commands differ (e.g. deploy's --architecture arm64, promote's "the source
            // stage's"): a value here would override some command's own default, so the input
            // must be empty, which leaves each command its own.
            problems.push(format!(
                "input {name} defaults to {input_default:?}, but the commands' defaults differ ({}): \
                 it must be \"\" so that each command keeps its own",
                per_command()
            ));
        }
    }
    for (name, _) in DEFAULT_EXCEPTIONS {
        if !action.inputs.contains_key(*name) {
            problems.push(format!(
                "DEFAULT_EXCEPTIONS lists {name}, which is no input"
            ));
        }
    }
    assert_no_problems("action.yml defaults drifted from the CLI", &problems);
}

/// run.sh turns only "true" into a set switch and drops "false"; any other switch would reach
/// clap as the string "false", and a new command would be refused by run.sh's allow-list.
#[test]
fn run_sh_knows_every_switch_and_command() {
    let action = action_yml();
    let run_sh = std::fs::read_to_string(root().join("action/run.sh")).expect("action/run.sh");
    let switch_line = run_sh
        .lines()
        .find(|l| l.trim_start().starts_with("for name in DEPLOY_"))
        .expect("run.sh has a `for name in DEPLOY_...` loop over the switches");
    let in_run_sh: BTreeSet<String> = switch_line
        .split_whitespace()
        .filter(|w| w.starts_with("DEPLOY_"))
        .map(|w| w.trim_end_matches(';').to_string())
        .collect();
    let switches: BTreeSet<String> = cli_flags()
        .into_iter()
        .filter(|(name, defs)| action.inputs.contains_key(name) && defs.iter().any(|f| f.switch))
        .map(|(name, _)| env_name(&name))
        .collect();
    assert_eq!(
        in_run_sh, switches,
        "run.sh's switch list (left) must be the inputs that are CLI switches (right)"
    );
    for (name, defs) in cli_flags() {
        if let Some(input) = action.inputs.get(&name)
            && defs.iter().any(|f| f.switch)
        {
            assert_eq!(
                input.default.as_deref(),
                Some("false"),
                "switch input {name} must default to \"false\""
            );
        }
    }

    let commands: BTreeSet<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|c| !TERMINAL_ONLY.iter().any(|(t, _)| t == c))
        .collect();
    let case_line = run_sh
        .lines()
        .find(|l| l.trim_start().starts_with("deploy | "))
        .expect("run.sh has a `deploy | ...) ;;` case over the commands");
    let allowed: BTreeSet<String> = case_line
        .trim()
        .trim_end_matches(";;")
        .trim()
        .trim_end_matches(')')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect();
    assert_eq!(
        allowed, commands,
        "run.sh's command allow-list (left) must be the CLI's commands (right)"
    );
    let description = &action.inputs["command"].description;
    for command in &commands {
        assert!(
            description.contains(command.as_str()),
            "the `command` input's description must name `{command}`: {description}"
        );
    }
}

/// A real deploy against moto, as a workflow step: the JSON report's fields (dashed) and the
/// GITHUB_OUTPUT entries must be exactly the outputs action.yml declares.
#[test]
fn every_output_is_produced_by_a_deploy() {
    let action = action_yml();
    let mut problems = Vec::new();
    for (name, output) in &action.outputs {
        let want = format!("${{{{ steps.run.outputs.{name} }}}}");
        if output.value != want {
            problems.push(format!(
                "output {name} must be {want}, found {:?}",
                output.value
            ));
        }
        if output.description.trim().is_empty() {
            problems.push(format!("output {name} has no description"));
        }
    }

    let world = World::new();
    let app = world.python_app("app", "drift");
    let payload = world.dir().join("push.json");
    std::fs::write(
        &payload,
        r#"{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567",
            "repository": {"full_name": "octo/app"}}"#,
    )
    .expect("payload");
    let role = World::exec_role();
    let run = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--artifact",
            &app.display().to_string(),
            "--handler",
            "app.handler",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
            "--output",
            "json",
        ])
        .github_event("push", &payload, 3)
        .run()
        .success();
    let report = run.json();
    let from_json: BTreeSet<String> = report
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(|k| k.replace('_', "-"))
        .collect();
    assert_eq!(
        report["stage"], "main",
        "the stage comes from the push event"
    );

    let output_file =
        std::fs::read_to_string(world.dir().join("github_output")).expect("GITHUB_OUTPUT written");
    let from_step: BTreeSet<String> = parse_github_output(&output_file).into_keys().collect();

    let declared: BTreeSet<String> = action.outputs.keys().cloned().collect();
    for name in &declared {
        if !from_json.contains(name) {
            problems.push(format!(
                "output {name} is declared in action.yml but is no field of `deploy --output json` ({from_json:?})"
            ));
        }
        if !from_step.contains(name) {
            problems.push(format!(
                "output {name} is declared in action.yml but the binary does not write it to GITHUB_OUTPUT ({from_step:?})"
            ));
        }
    }
    for name in from_json.union(&from_step) {
        if !declared.contains(name) {
            problems.push(format!(
                "the binary produces {name}, but action.yml declares no such output"
            ));
        }
    }
    assert!(
        declared.contains("stage"),
        "action.yml must declare `stage`"
    );
    assert_no_problems("action.yml outputs drifted from the binary", &problems);
}

/// `name<<DELIM` … `DELIM` and `name=value` entries of a GITHUB_OUTPUT file.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

#[test]
fn parses_both_github_output_forms() {
    let parsed = parse_github_output("a<<EOF_1\nx\ny\nEOF_1\nb=2\n");
    assert_eq!(parsed["a"], "x\ny");
    assert_eq!(parsed["b"], "2");
}

/// One list of options, three surfaces (issue 17): the settings file's keys are the CLI's long
/// flags, which are the action's inputs. Every input but `command` is a settings key or refused
/// by the file with a reason (and every refusal names a real flag); a file holding every other
/// input, with the action's default as its value, is read by `config` key for key.
#[test]
fn settings_keys_are_the_flags_and_the_inputs() {
    use deploy_action::settings::{PLANNED, REFUSED, is_key};
    let action = action_yml();
    let flags = cli_flags();
    let mut problems = Vec::new();
    for (key, reason) in REFUSED {
        if !flags.contains_key(*key) {
            problems.push(format!(
                "settings::REFUSED lists {key} ({reason}), which is no flag"
            ));
        }
    }
    for key in PLANNED {
        if is_key(key) && !action.inputs.contains_key(*key) {
            problems.push(format!("--{key} exists now: it needs an action input too"));
        }
    }
    let mut file = String::new();
    let mut expect = Vec::new();
    for (name, input) in &action.inputs {
        if name == "command" {
            continue;
        }
        let refused = REFUSED.iter().any(|(k, _)| k == name);
        if !is_key(name) && !refused {
            problems.push(format!("input {name} is no settings key"));
        }
        let Some(default) = input.default.as_deref().filter(|d| !d.is_empty()) else {
            continue;
        };
        if refused || default.contains("${{") {
            continue;
        }
        let switch = flags[name].iter().any(|f| f.switch);
        if switch {
            file.push_str(&format!("{name} = {default}\n"));
        } else {
            file.push_str(&format!("{name} = {default:?}\n"));
        }
        expect.push((name.clone(), default.to_string()));
    }
    assert_no_problems("settings keys drifted from the flags and inputs", &problems);

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("deploy-action.toml"), &file).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deploy-action"))
        .args(["config", "--output", "json"])
        .env_clear()
        .envs(crate::support::host_env())
        .current_dir(dir.path())
        .output()
        .expect("run config");
    assert!(
        out.status.success(),
        "config failed on\n{file}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut seen = 0;
    for (name, default) in &expect {
        // `config` shows deploy's flags; keys of other commands (port, out) are checked above.
        let entry = &report["settings"][name.as_str()];
        if entry.is_null() {
            continue;
        }
        seen += 1;
        assert_eq!(entry["source"], "file", "{name}: {entry}");
        assert_eq!(
            entry["value"].as_str(),
            Some(default.as_str()),
            "{name}: {entry}"
        );
    }
    assert!(
        seen >= 10,
        "config showed only {seen} of the file's keys:\n{file}"
    );
}
