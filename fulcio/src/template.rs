//! The subset of Go `text/template` that upstream Fulcio's `ci-provider`
//! templates use (`config/identity/config.yaml`): literal text,
//! `{{ .name }}`, `{{ index . "name" }}` (optionally parenthesised), and
//! `{{ if eq ARG "literal" }} … {{ else }} … {{ end }}`. Anything else is
//! refused when the configuration loads, so a template never half-renders.
//! Missing keys are errors (upstream runs with `missingkey=error`).
//!
//! A value without `{{` is not a template: it names a claim whose value is used.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Key(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Value(Arg),
    IfEq {
        arg: Arg,
        literal: String,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// A parsed template or claim name.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Inner);

#[derive(Debug, Clone, PartialEq)]
enum Inner {
    Claim(String),
    Nodes(Vec<Node>),
}

impl Template {
    pub fn parse(src: &str) -> Result<Self, String> {
        if !src.contains("{{") {
            return Ok(Template(Inner::Claim(src.to_string())));
        }
        let tokens = tokenize(src)?;
        let mut pos = 0;
        let nodes = parse_nodes(&tokens, &mut pos, false)?;
        if pos != tokens.len() {
            return Err("unexpected {{ else }} or {{ end }}".into());
        }
        Ok(Template(Inner::Nodes(nodes)))
    }

    /// Renders against `data` (claims merged over the defaults).
    pub fn render(&self, data: &BTreeMap<String, String>) -> Result<String, String> {
        match &self.0 {
            Inner::Claim(name) => data
                .get(name)
                .cloned()
                .ok_or_else(|| format!("value <{name}> not present in either claims or defaults")),
            Inner::Nodes(nodes) => {
                let mut out = String::new();
                render_nodes(nodes, data, &mut out)?;
                Ok(out)
            }
        }
    }
}

enum Tok {
    Text(String),
    Action(String),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Tok::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed {{")?;
        out.push(Tok::Action(after[..end].trim().to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Tok::Text(rest.to_string()));
    }
    Ok(out)
}

fn parse_nodes(toks: &[Tok], pos: &mut usize, in_if: bool) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while *pos < toks.len() {
        match &toks[*pos] {
            Tok::Text(t) => {
                nodes.push(Node::Text(t.clone()));
                *pos += 1;
            }
            Tok::Action(a) if a == "else" || a == "end" => {
                if !in_if {
                    return Err(format!("unexpected {{{{ {a} }}}}"));
                }
                return Ok(nodes);
            }
            Tok::Action(a) => {
                *pos += 1;
                if let Some(cond) = a.strip_prefix("if ") {
                    let (arg, literal) = parse_eq(cond.trim())?;
                    let then = parse_nodes(toks, pos, true)?;
                    let mut otherwise = Vec::new();
                    if matches!(toks.get(*pos), Some(Tok::Action(x)) if x == "else") {
                        *pos += 1;
                        otherwise = parse_nodes(toks, pos, true)?;
                    }
                    if !matches!(toks.get(*pos), Some(Tok::Action(x)) if x == "end") {
                        return Err("{{ if }} without {{ end }}".into());
                    }
                    *pos += 1;
                    nodes.push(Node::IfEq {
                        arg,
                        literal,
                        then,
                        otherwise,
                    });
                } else {
                    nodes.push(Node::Value(parse_arg(a)?));
                }
            }
        }
    }
    if in_if {
        return Err("{{ if }} without {{ end }}".into());
    }
    Ok(nodes)
}

/// `.name` or `index . "name"`, optionally in parentheses.
fn parse_arg(s: &str) -> Result<Arg, String> {
    let s = s.trim();
    let s = s
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .map(str::trim)
        .unwrap_or(s);
    if let Some(name) = s.strip_prefix('.') {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Ok(Arg::Key(name.to_string()));
        }
    }
    if let Some(rest) = s.strip_prefix("index") {
        let rest = rest.trim_start();
        if let Some(rest) = rest.strip_prefix('.') {
            if let Some(lit) = parse_string(rest.trim()) {
                return Ok(Arg::Key(lit));
            }
        }
    }
    Err(format!("unsupported template action {{{{ {s} }}}}"))
}

/// `eq ARG "literal"`.
fn parse_eq(s: &str) -> Result<(Arg, String), String> {
    let body = s
        .strip_prefix("eq ")
        .ok_or_else(|| format!("unsupported condition {s:?} (only `eq ARG \"literal\"`)"))?
        .trim();
    let quote = body
        .rfind(" \"")
        .ok_or_else(|| format!("condition {s:?} needs a string literal"))?;
    let arg = parse_arg(&body[..quote])?;
    let lit =
        parse_string(body[quote..].trim()).ok_or_else(|| format!("bad string literal in {s:?}"))?;
    Ok((arg, lit))
}

fn parse_string(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('"') || inner.contains('\\') {
        return None;
    }
    Some(inner.to_string())
}

fn render_nodes(
    nodes: &[Node],
    data: &BTreeMap<String, String>,
    out: &mut String,
) -> Result<(), String> {
    let get = |Arg::Key(k): &Arg| {
        data.get(k)
            .cloned()
            .ok_or_else(|| format!("map has no entry for key {k:?}"))
    };
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Value(a) => out.push_str(&get(a)?),
            Node::IfEq {
                arg,
                literal,
                then,
                otherwise,
            } => {
                if &get(arg)? == literal {
                    render_nodes(then, data, out)?;
                } else {
                    render_nodes(otherwise, data, out)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn upstream_templates() {
        let d = data(&[
            ("url", "https://github.com"),
            (
                "job_workflow_ref",
                "o/r/.github/workflows/w.yml@refs/heads/main",
            ),
            ("repository", "o/r"),
            ("run_id", "42"),
            ("run_attempt", "1"),
            ("ref_type", "branch"),
            ("ref", "main"),
            ("oidc.circleci.com/vcs-origin", "github.com/o/r"),
        ]);
        let t = Template::parse("{{ .url }}/{{ .job_workflow_ref }}").unwrap();
        assert_eq!(
            t.render(&d).unwrap(),
            "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"
        );
        let t = Template::parse(
            "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
        )
        .unwrap();
        assert_eq!(
            t.render(&d).unwrap(),
            "https://github.com/o/r/actions/runs/42/attempts/1"
        );
        let t = Template::parse(
            r#"{{if eq .ref_type "branch"}}refs/heads/{{ else }}refs/tags/{{end}}{{ .ref }}"#,
        )
        .unwrap();
        assert_eq!(t.render(&d).unwrap(), "refs/heads/main");
        let t = Template::parse(r#"https://{{index . "oidc.circleci.com/vcs-origin"}}"#).unwrap();
        assert_eq!(t.render(&d).unwrap(), "https://github.com/o/r");
        let t = Template::parse(r#"{{(index . "oidc.circleci.com/vcs-origin")}}"#).unwrap();
        assert_eq!(t.render(&d).unwrap(), "github.com/o/r");
        // Plain claim names.
        assert_eq!(Template::parse("run_id").unwrap().render(&d).unwrap(), "42");
        assert!(Template::parse("missing").unwrap().render(&d).is_err());
        assert!(Template::parse("{{ .missing }}")
            .unwrap()
            .render(&d)
            .is_err());
    }

    #[test]
    fn refuses_unsupported() {
        for bad in [
            "{{ .a",
            "{{ printf \"%s\" .a }}",
            "{{ if .a }}x{{ end }}",
            "{{ if eq .a \"b\" }}x",
            "x{{ end }}",
            "{{ .a.b }}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
