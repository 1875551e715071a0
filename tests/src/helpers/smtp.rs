//! A real SMTP server for the email tests: Python's `aiosmtpd` (installed by `make test`),
//! started per test on a free port. It can refuse the first messages with a temporary
//! error (451), refuses any `bounce@...` recipient for good (550) and any `later@...` one
//! for now (451, every time), and records each
//! accepted message, decoded, as a JSON file.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const SERVER: &str = r#"
import email, email.policy, json, os, sys
from aiosmtpd.controller import Controller

port, outdir, refuse = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
state = {"refused": 0, "accepted": 0}

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("later@"):
            return "451 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if state["refused"] < refuse:
            state["refused"] += 1
            return "451 4.3.0 Temporary failure, try again later"
        state["accepted"] += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "to": envelope.rcpt_tos,
            "from": envelope.mail_from,
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "text": text.get_content() if text else "",
            "html": html.get_content() if html else "",
            "headers": {name.lower(): str(value) for name, value in message.items()},
        }
        path = os.path.join(outdir, "%04d.json" % state["accepted"])
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
"#;

pub struct SmtpServer {
    pub port: u16,
    dir: PathBuf,
    _child: tokio::process::Child,
}

impl SmtpServer {
    /// Starts the server; the first `refuse` messages get a temporary refusal.
    pub async fn start(refuse: usize) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("almanac-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(port.to_string())
            .arg(&dir)
            .arg(refuse.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts (make test installs aiosmtpd)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the SMTP server starts within 10 s");
        assert_eq!(
            ready.ok().flatten().as_deref(),
            Some("ready"),
            "aiosmtpd did not start (is it installed?)"
        );
        Self {
            port,
            dir,
            _child: child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `n` messages have arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        super::eventually(Duration::from_secs(20), "emails to arrive", || async {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
