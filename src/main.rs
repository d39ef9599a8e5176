fn main() {
    std::process::exit(deploy_action::run(std::env::args_os()));
}
