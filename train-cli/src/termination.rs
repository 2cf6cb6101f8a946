//! A stopped command (SIGTERM, SIGINT from Ctrl-C, SIGHUP from a closed
//! terminal) leaves no temporary file and no run lock behind: the signals
//! are blocked in every thread and awaited on one of our own, which removes
//! the unfinished files and exits as the signal would have. (Awaited, not
//! handled: a signal handler may not take locks or allocate.)

/// Call first in `main`, before any thread starts (threads inherit the mask).
/// Also ends the process quietly when its output pipe closes
/// (`dermlens explain ... | head -1`), as other command-line tools do,
/// instead of panicking on the failed write (Rust ignores SIGPIPE).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn clean_up_when_stopped() {
    // SAFETY: restores the default disposition of one signal; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut signals = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset and
    // pthread_sigmask only read and change that set and this thread's mask.
    let signals = unsafe {
        libc::sigemptyset(signals.as_mut_ptr());
        let mut set = signals.assume_init();
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return; // the default: stopped at once, as before
        }
        set
    };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let mut signal = 0;
        // SAFETY: waits for one of the blocked signals in `signals`, an
        // initialised set, writing its number to `signal`.
        if unsafe { libc::sigwait(&signals, &mut signal) } == 0 {
            crate::files::remove_unfinished();
            eprintln!("stopped by signal {signal}: unfinished files removed");
            std::process::exit(128 + signal);
        }
    });
    if spawned.is_err() {
        // SAFETY: as above, with the same initialised set.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &signals, std::ptr::null_mut()) };
    }
}

#[cfg(not(unix))]
pub fn clean_up_when_stopped() {}
