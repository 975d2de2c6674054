//! The control socket's request parser from arbitrary bytes: never a panic, and what it
//! accepts means what it says: written back as a request line, it parses to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_userspace::daemon::{Command, parse_request};

fuzz_target!(|data: &[u8]| {
    let Ok(command) = parse_request(data) else {
        return;
    };
    let line = match &command {
        Command::Status => "status\n".to_string(),
        Command::Handover { instance: None } => "handover\n".to_string(),
        Command::Handover {
            instance: Some(name),
        } => {
            assert!(
                !name.is_empty() && !name.contains(|c: char| c.is_ascii_whitespace()),
                "instance name {name:?} from {data:?}"
            );
            format!("handover {name}\n")
        }
    };
    assert_eq!(parse_request(line.as_bytes()), Ok(command), "from {data:?}");
});
