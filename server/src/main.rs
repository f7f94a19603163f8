//! The monitor's binary. Run with `server --help`; everything happens in the library.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
