fn main() -> std::process::ExitCode {
    tuf_root::cli::main()
}
