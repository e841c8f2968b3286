//! Writes docs/crds.md, the reference generated from the types (`make docs`).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let path = root.join("docs/crds.md");
    std::fs::write(&path, attestor_api::docs::markdown()).expect("write docs/crds.md");
    println!("wrote docs/crds.md");
}
