//! The README is part of the contract: it must not drift from the code and the examples.

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
