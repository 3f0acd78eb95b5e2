//! Rebuild when a migration is added: refinery embeds the folder at compile time
//! but cargo only tracks files it is told about.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
