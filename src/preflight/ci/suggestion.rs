//! The one "what to change" text of a CI reference, by where the
//! `dynamodb_table` is written. Formats text only; decides nothing.

/// Where the reported `dynamodb_table` is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Site<'a> {
    /// A `-backend-config` argument on a command line.
    Arg,
    /// The same argument inside the value of this `TF_CLI_ARGS*` variable.
    EnvVar(&'a str),
    /// A GitHub action's `backend_config` input.
    ActionInput,
    /// A file passed with `-backend-config=FILE`.
    ConfigFile,
    /// A shell heredoc that writes a backend configuration.
    Heredoc,
}

/// What the user should do about `snippet` at `site`; `has_table` is false for
/// an empty (or `null`) table, which turns DynamoDB locking off instead.
pub(super) fn suggestion(site: Site, snippet: &str, has_table: bool) -> String {
    if !has_table {
        return format!(
            "`{snippet}` sets an empty `dynamodb_table`, which turns DynamoDB locking off for \
             this state: make sure `use_lockfile = true` is set (in the backend or as \
             `-backend-config=use_lockfile=true`) so it stays locked, then remove it"
        );
    }
    const ARG: &str = "`-backend-config=use_lockfile=true`";
    const ATTR: &str = "`use_lockfile = true`";
    // (what to remove and from where, why it matters, what may stay beside it)
    let (action, why, companion) = match site {
        Site::Arg => (
            format!("remove `{snippet}`"),
            "it overrides the backend files",
            ARG.to_string(),
        ),
        Site::EnvVar(var) => (
            format!("remove `{snippet}` from `{var}`"),
            "Terraform adds it to `init`, where it overrides the backend files",
            format!("{ARG} in the same variable"),
        ),
        Site::ActionInput => (
            format!("remove `{snippet}` from the action's `backend_config` input"),
            "it is passed to `init` as -backend-config and overrides the backend files",
            "`use_lockfile=true`".to_string(),
        ),
        Site::ConfigFile => (
            format!("remove `{snippet}` from this -backend-config file"),
            "its values override the backend block",
            format!("{ATTR} in the same file"),
        ),
        Site::Heredoc => {
            return format!(
                "this heredoc writes `{snippet}` into a backend configuration generated at CI \
                 time (tflock does not rewrite it; values there override the backend files, so \
                 this state keeps DynamoDB locking): remove the line; {}",
                dual_phase(ATTR)
            );
        }
    };
    format!(
        "{action} ({why}, so this state keeps DynamoDB locking); {}",
        dual_phase(&companion)
    )
}

fn dual_phase(companion: &str) -> String {
    format!("during the dual phase keep it only together with {companion}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_site_names_the_snippet_and_the_dual_phase() {
        for site in [
            Site::Arg,
            Site::EnvVar("TF_CLI_ARGS_init"),
            Site::ActionInput,
            Site::ConfigFile,
            Site::Heredoc,
        ] {
            let s = suggestion(site, "dynamodb_table=x", true);
            assert!(s.contains("`dynamodb_table=x`"), "{s}");
            assert!(s.contains("keeps DynamoDB locking"), "{s}");
            assert!(
                s.contains("during the dual phase keep it only together"),
                "{s}"
            );
        }
        assert!(suggestion(Site::EnvVar("TF_CLI_ARGS"), "a", true).contains("from `TF_CLI_ARGS`"));
    }

    #[test]
    fn an_empty_table_says_locking_is_off() {
        let s = suggestion(Site::Heredoc, "dynamodb_table = \"\"", false);
        assert!(
            s.starts_with("`dynamodb_table = \"\"` sets an empty"),
            "{s}"
        );
        assert!(s.contains("turns DynamoDB locking off"), "{s}");
    }
}
