fn main() -> std::process::ExitCode {
    cosign_cli::cli::main()
}
