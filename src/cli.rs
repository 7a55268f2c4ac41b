//! The binary's side of each command: flags to a validated configuration,
//! dispatch to `tflock::commands`, and the terminal (`Io`: stdout, stderr,
//! colours, progress bars, the prompt). Every decision is made in the library.

use anyhow::{Context, Result};
use args::{Cli, Command};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, IsTerminal, Write};
use tflock::commands::{self, Error, Exit, Io, Session};
use tflock::report::Style;

pub mod args;

pub fn run(cli: Cli) -> Result<Exit> {
    // NO_COLOR and --no-color ask for plain output: no colours, and no progress
    // bars either (they redraw with terminal control codes).
    let plain = cli.no_color
        || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let mut io = Terminal {
        style: Style {
            color: !plain && std::io::stdout().is_terminal(),
        },
        progress: !plain && !cli.quiet && std::io::stderr().is_terminal(),
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let session = Session::default();
    Ok(match cli.command {
        Command::Plan(args) => commands::plan::run(&args.config(&cwd)?, &cwd, &mut io, &session)?,
        Command::Apply(args) => commands::apply::run(&args.config(&cwd)?, &cwd, &mut io, &session)?,
        Command::Rollback(args) => commands::rollback::run(&args.config(), &mut io, &session)?,
        Command::Locks(args) => commands::locks::run(&args.config(&cwd)?, &cwd, &mut io, &session)?,
        Command::Status(args) => {
            commands::status::run(&args.config(&cwd)?, &cwd, &mut io, &session)?
        }
        Command::Check(args) => commands::check::run(&args.config(&cwd)?, &cwd, &mut io)?,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "tflock", &mut std::io::stdout());
            Exit::Ok
        }
        Command::Man => {
            let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            man.render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Exit::Ok
        }
    })
}

/// Standard output and error of a terminal, a pipe or a CI log.
struct Terminal {
    style: Style,
    /// Progress bars: only on a terminal, never with --quiet.
    progress: bool,
}

impl Io for Terminal {
    fn style(&self) -> Style {
        self.style
    }

    /// A closed pipe (`tflock plan | head`) ends the program quietly.
    fn out(&mut self, text: &str) -> Result<(), Error> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => other.map_err(Error::Stdout),
        }
    }

    fn err(&mut self, line: &str) {
        eprintln!("{line}");
    }

    /// Asks like Terraform does; refuses when nobody can answer.
    fn confirm(&mut self, question: &str) -> Result<bool, Error> {
        if !std::io::stdin().is_terminal() {
            return Err(Error::CannotAsk);
        }
        self.out(&format!(
            "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
        ))?;
        let mut answer = String::new();
        let mut input = std::io::stdin().lock();
        input.read_line(&mut answer).map_err(Error::Answer)?;
        Ok(answer.trim() == "yes")
    }

    fn spinner(&self, template: &str, what: String) -> Option<ProgressBar> {
        if !self.progress {
            return None;
        }
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::new_spinner().with_style(style);
        bar.set_message(what);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }
}
