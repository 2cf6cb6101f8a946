//! The dermlens page (built for the browser by trunk).

#[cfg(target_arch = "wasm32")]
fn main() {
    app::page::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "The dermlens page runs in a browser: build it with `trunk build --release` (see the README)."
    );
    std::process::exit(2);
}
