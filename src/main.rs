fn main() {
    // SAFETY: called first thing, before any other thread exists.
    unsafe { deploy_action::drop_empty_deploy_env() };
    std::process::exit(deploy_action::run(std::env::args_os()));
}
