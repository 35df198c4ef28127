//! The `rootvault` binary: parse the command line and hand over to the library.

#![forbid(unsafe_code)]

/// mimalloc rather than the C library's allocator: a request allocates and
/// frees many small values on several threads (rows, JSON, headers), where
/// the system allocator spent about a seventh of the release path's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rootvault::cli::main()
}
