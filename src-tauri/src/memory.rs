//! Returning freed memory to the system after a large one-off allocation (the contact list for
//! the Contacts screen): glibc keeps freed heap pages mapped otherwise, and the app's resident
//! size would stay at its peak for the rest of the day.

#[allow(unsafe_code)] // one libc call, below
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
