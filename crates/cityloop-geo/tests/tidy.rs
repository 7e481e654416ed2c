//! Tidy checks: every source file of the crate starts with a `//!` comment saying what it is.

use std::path::Path;

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["src", "tests", "benches", "examples"] {
        rs_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let ok = if f.ends_with("src/lib.rs") {
            text.starts_with("#![doc = include_str!(\"../README.md\")]")
        } else {
            text.starts_with("//!")
        };
        assert!(
            ok,
            "{} does not start with a //! module comment",
            f.display()
        );
    }
}
