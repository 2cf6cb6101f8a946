//! The dermlens inference worker, built for the browser by trunk beside
//! the page (the `app` crate). It is a crate of its own so that only it
//! links burn: the page's wasm then holds the page alone.

#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
fn main() {
    worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "The dermlens worker runs in a browser: build it with `trunk build --release` (see the README)."
    );
    std::process::exit(2);
}
