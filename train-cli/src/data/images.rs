//! Finding image files: by extension, below folders (without following
//! links to folders, so no loop can trap the walk), or as listed in a saved
//! split. Entries that cannot be read are reported, not fatal.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "gif"];

/// Whether a path names an image file the decoder reads, by extension.
pub fn is_image_file(path: &Path) -> bool {
    path.is_file() && has_image_extension(path)
}

fn has_image_extension(path: &Path) -> bool {
    let ext =
        path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    IMAGE_EXTENSIONS.contains(&ext.as_str())
}

/// A path as text without losing anything: bytes that are not UTF-8 (possible
/// in Unix file names) are written as `%XX`, and so is `%` itself.
pub fn display_name(path: &Path) -> String {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                out.push_str(&text.replace('%', "%25"));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(&String::from_utf8_lossy(good).replace('%', "%25"));
                let n = e.error_len().unwrap_or(bad.len());
                bad[..n].iter().for_each(|b| out.push_str(&format!("%{b:02X}")));
                rest = &bad[n..];
            }
        }
    }
    out
}

/// An image file to read, and the name it has in reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub path: PathBuf,
    /// Relative to the folder it was found in (or as given, for a file).
    pub name: String,
}

/// An entry a walk could not use, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

/// What a walk found: image files in sorted order, and what it could not read.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Found>,
    pub problems: Vec<Skipped>,
}

fn walk_folder(root: &Path, dir: &Path, walk: &mut Walk) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            walk.problems.push(Skipped {
                path: dir.to_path_buf(),
                why: format!("cannot list the folder ({e})"),
            });
            return;
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => paths.push(entry.path()),
            Err(e) => walk.problems.push(Skipped {
                path: dir.to_path_buf(),
                why: format!("an entry cannot be read ({e})"),
            }),
        }
    }
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            walk.problems.push(Skipped { path, why: "cannot be read".into() });
            continue;
        };
        if meta.is_dir() {
            walk_folder(root, &path, walk);
        } else if meta.file_type().is_symlink() && path.is_dir() {
            walk.problems.push(Skipped { path, why: "a link to a folder, not followed".into() });
        } else if meta.file_type().is_symlink() && !path.exists() {
            walk.problems.push(Skipped { path, why: "a link to nothing".into() });
        } else if has_image_extension(&path) && !path.is_file() {
            // A FIFO would block the read forever, a device never end.
            let why = crate::files::NOT_A_FILE.into();
            walk.problems.push(Skipped { path, why });
        } else if is_image_file(&path) {
            let name = display_name(path.strip_prefix(root).unwrap_or(&path));
            walk.files.push(Found { path, name });
        }
    }
}

/// Image files named directly or found (recursively, sorted) in folders.
/// A path that does not exist is an error; anything unreadable inside a
/// folder is listed and skipped.
pub fn collect_images(paths: &[PathBuf]) -> Result<Walk> {
    let mut walk = Walk::default();
    for p in paths {
        if p.is_dir() {
            walk_folder(p, p, &mut walk);
        } else if p.exists() {
            walk.files.push(Found { path: p.clone(), name: display_name(p) });
        } else if std::fs::symlink_metadata(p).is_ok() {
            bail!("{} is a link to nothing (or a loop of links)", p.display());
        } else {
            bail!("{} does not exist", p.display());
        }
    }
    // Two folders may hold the same relative names: those keep their full paths.
    let mut seen = std::collections::HashMap::new();
    for f in &walk.files {
        *seen.entry(f.name.clone()).or_insert(0usize) += 1;
    }
    for f in &mut walk.files {
        if seen[&f.name] > 1 {
            f.name = display_name(&f.path);
        }
    }
    Ok(walk)
}

/// Image files below `dir`, recursively, in sorted order (the paths only).
pub fn images_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let walk = collect_images(&[dir.to_path_buf()])?;
    print_unreadable(&walk.problems.iter().map(ToString::to_string).collect::<Vec<_>>());
    Ok(walk.files.into_iter().map(|f| f.path).collect())
}

/// Names every entry that could not be read, on stderr.
pub fn print_unreadable(failed: &[String]) {
    for f in failed {
        eprintln!("unreadable: {f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn walks_skip_folder_links_name_files_relatively_and_keep_strange_names() {
        use std::os::unix::ffi::OsStrExt;
        let root = std::env::temp_dir().join(format!("dermlens-walk-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("x.jpg"), b"1").unwrap();
        std::fs::write(b.join("x.jpg"), b"2").unwrap();
        std::fs::write(a.join("notes.txt"), b"ignored").unwrap();
        std::os::unix::fs::symlink(&root, a.join("loop")).unwrap();
        std::os::unix::fs::symlink(root.join("gone.jpg"), a.join("dangling.jpg")).unwrap();
        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9 50%.png");
        std::fs::write(b.join(odd), b"3").unwrap();

        let walk = collect_images(std::slice::from_ref(&root)).unwrap();
        let names: Vec<&str> = walk.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["a/x.jpg", "b/caf%E9 50%25.png", "b/x.jpg"],
            "one of each, relative, no loop"
        );
        assert_eq!(walk.problems.len(), 2, "{:?}", walk.problems);
        assert!(walk.problems.iter().any(|p| p.why.contains("not followed")));
        assert!(walk.problems.iter().any(|p| p.why.contains("link to nothing")));

        // The same relative name under two given folders keeps the full paths.
        let two = collect_images(&[a.clone(), b.clone()]).unwrap();
        let xs: Vec<&Found> = two.files.iter().filter(|f| f.path.ends_with("x.jpg")).collect();
        assert_ne!(xs[0].name, xs[1].name);
        assert!(collect_images(&[root.join("missing")]).is_err());
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn names_are_lossless() {
        assert_eq!(display_name(Path::new("a/b c.jpg")), "a/b c.jpg");
        assert_eq!(display_name(Path::new("100%.png")), "100%25.png");
    }
}
