//! The command line of CONTRACT.md section 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::roles::Role;

/// Diagnoses failed Cognigy → NICE CXone voice handovers and tells the team.
#[derive(Debug, Parser)]
#[command(name = "handover-doctor", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `diagnose` and `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report a person reads.
    Text,
    /// The Diagnosis as JSON (`scan`: an array of them).
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (roles: all, receiver, worker, notifier) until SIGINT/SIGTERM.
    Serve {
        /// Which roles this process plays.
        #[arg(long, value_enum, default_value = "all")]
        role: Role,
        /// After starting, replay these payload files (or folders of *.json) against
        /// this process's own receiver: the quick way to see it work.
        #[arg(long, value_name = "PATH")]
        replay: Vec<PathBuf>,
    },
    /// POST webhook payload files to a receiver, authenticated with the configured secret.
    Replay {
        /// Receiver URL [default: http://<LISTEN_ADDR>/webhooks/cognigy/handover].
        #[arg(long)]
        url: Option<String>,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
        /// Files, or folders whose *.json files are sent.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Run the whole diagnosis once, now, and print it (no queue, no notification).
    Diagnose(DiagnoseArgs),
    /// Print the headers that make FILE's bytes a valid signed request now (needs
    /// WEBHOOK_SIGNING_SECRETS; signs with the first).
    Sign {
        /// The body to sign.
        file: PathBuf,
    },
    /// Explain a finding code (what it means, why it matters, how to fix it).
    Explain {
        /// A code such as HD303, or its name.
        #[arg(required_unless_present = "list", conflicts_with = "list")]
        code: Option<String>,
        /// List every code with its name.
        #[arg(long)]
        list: bool,
    },
    /// List the dead-letter queue (event id, conversation, the queue each died in, reason).
    DeadLetters {
        /// Move each dead letter back to the queue it died in (jobs or reports).
        #[arg(long)]
        requeue: bool,
    },
    /// Find failed handovers nobody reported: voice contacts that never reached an agent.
    Scan(ScanArgs),
    /// Validate the configuration and probe each configured dependency.
    CheckConfig,
}

/// `diagnose` arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["payload", "contact_id"]))]
pub struct DiagnoseArgs {
    /// A webhook payload file.
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// A CXone contact id (the spawned contact the bot signalled).
    #[arg(long, value_name = "ID")]
    pub contact_id: Option<String>,
    /// The Cognigy conversation id, with --contact-id.
    #[arg(long, value_name = "ID", requires = "contact_id")]
    pub conversation_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// `scan` arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("window").required(true).args(["since", "from"]))]
pub struct ScanArgs {
    /// How far back to look, e.g. 2h, 30m, 1d.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Window start (RFC 3339), with --to.
    #[arg(long, value_name = "TIME", requires = "to")]
    pub from: Option<String>,
    /// Window end (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Only these skill ids (repeatable) [default: SCAN_SKILLS, else every voice skill].
    #[arg(long = "skill", value_name = "ID")]
    pub skills: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Send what is found through the queue and notifier instead of printing it.
    #[arg(long)]
    pub enqueue: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    fn help_of(command: &str) -> String {
        Cli::command()
            .find_subcommand_mut(command)
            .unwrap_or_else(|| panic!("no {command} command"))
            .render_long_help()
            .to_string()
    }

    #[test]
    fn dead_letters_help_says_requeue_goes_back_to_the_queue_each_died_in() {
        let help = help_of("dead-letters");
        assert!(help.contains("the queue it died in"), "{help}");
        assert!(help.contains("the queue each died in"), "{help}");
        assert!(!help.contains("back to the jobs queue"), "{help}");
    }

    #[test]
    fn sign_help_names_the_variable_it_needs() {
        let help = help_of("sign");
        assert!(help.contains("WEBHOOK_SIGNING_SECRETS"), "{help}");
    }
}
