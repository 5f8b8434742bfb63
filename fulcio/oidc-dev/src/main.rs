fn main() -> std::process::ExitCode {
    sigstack_oidc_dev::cli::main()
}
