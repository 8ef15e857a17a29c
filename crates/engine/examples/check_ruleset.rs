//! Compiles a ruleset file and prints its diagnostics, or a one-line summary when it is valid.
//! Usage: `cargo run -p ansim-engine --example check_ruleset -- FILE`.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check_ruleset FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    match engine::Snapshot::compile(&text) {
        Ok(s) => println!("{path}: {} with {} rules and {} features", s.label, s.rules.len(), s.features.len()),
        Err(diags) => {
            for d in &diags {
                eprint!("{}", d.render(&path, &text));
            }
            eprintln!("{} error(s)", diags.len());
            std::process::exit(1);
        }
    }
}
