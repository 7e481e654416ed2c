//! House rules checked mechanically: every source file opens with a `//!` comment saying
//! what it is for (a crate root may instead include its README as its doc), and no
//! `todo!()` / `unimplemented!()` is left anywhere.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn crate_sources() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for c in std::fs::read_dir(&crates).unwrap().flatten() {
        rust_files(&c.path().join("src"), &mut files);
    }
    assert!(files.len() > 10, "found the workspace sources");
    files
}

#[test]
fn every_source_file_starts_with_a_module_doc_comment() {
    let missing: Vec<_> = crate_sources()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let head = text.trim_start();
            !(head.starts_with("//!")
                || head.starts_with("#![doc = include_str!(\"../README.md\")]"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! header: {missing:?}"
    );
}

#[test]
fn no_todo_or_unimplemented_is_left_in_the_sources() {
    let bad: Vec<_> = crate_sources()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            text.contains(concat!("todo", "!(")) || text.contains(concat!("unimplemented", "!("))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}
