//! The `outrider` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    outrider::run()
}
