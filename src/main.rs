fn main() -> std::process::ExitCode {
    soupwatch::cli::run()
}
