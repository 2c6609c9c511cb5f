//! `convoy batch list | show WINDOW | run [--window W]`: the arguments, and running them
//! ([`crate::ops::batches`] does the work).

use crate::ops::batches::{self, BatchOpsError};
use crate::ops::Target;
use crate::output::Output;
use jiff::civil::Date;

/// A window named on the command line: the local date of its closing cutoff, `YYYY-MM-DD`.
fn window(name: &str) -> Result<Date, batch::window::WindowError> {
    batch::window::parse_date(name)
}

#[derive(Debug, clap::Subcommand)]
pub enum BatchCommand {
    /// Every batch file under batches/ (the first 1,000 in key order) with its header:
    /// window, orders, start, end, cutoff, size, last modified, batch id. A file whose
    /// header does not parse is listed with its error.
    List {
        /// Only keys under batches/PREFIX.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// One window's batch file, checked whole (order count, receipt order, checksum): its
    /// header, then its orders in receipt order; --json prints the file's own lines (the
    /// header, then one order a line).
    Show {
        /// The window: the local date of its closing cutoff (YYYY-MM-DD).
        #[arg(value_name = "WINDOW", value_parser = window)]
        window: Date,
    },
    /// Write a window's batch now, with your credentials, as the batch function does: only
    /// once the window has settled (its cutoff plus the settle delay, both from the stack's
    /// outputs), and only once (a file already there is left unchanged, exit 0).
    Run {
        /// The window (YYYY-MM-DD); without it, the latest settled window.
        #[arg(long, value_name = "WINDOW", value_parser = window)]
        window: Option<Date>,
    },
}

impl BatchCommand {
    /// Runs the command on `target`'s stack; its results to `out`.
    pub async fn run(&self, target: &Target, out: &mut Output<'_>) -> Result<(), BatchOpsError> {
        match self {
            BatchCommand::List { prefix } => batches::list(target, prefix, out).await,
            BatchCommand::Show { window } => batches::show(target, *window, out).await,
            BatchCommand::Run { window } => batches::run(target, *window, out).await,
        }
    }
}
