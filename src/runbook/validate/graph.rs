//! How steps relate: duplicate ids, unknown `needs`, dependency cycles, and which steps a step
//! transitively needs (so `templates` can tell whether a `vars.X` it reads is captured by a
//! step that is sure to have run first).
//!
//! This module must not look inside templates; it only knows ids and `needs`.

use std::collections::HashMap;

use super::{Diagnostic, Validator, closest};

/// The `needs` graph over step indices. A duplicated id resolves to its first step.
pub(super) struct Graph {
    edges: Vec<Vec<usize>>,
    /// Per step, lazily: every step it transitively needs.
    ancestors: Vec<Option<Vec<bool>>>,
}

impl Graph {
    /// Whether step `step` (transitively) needs step `other`.
    pub(super) fn needs(&mut self, step: usize, other: usize) -> bool {
        if self.ancestors[step].is_none() {
            let mut seen = vec![false; self.edges.len()];
            let mut stack = self.edges[step].clone();
            while let Some(n) = stack.pop() {
                if !std::mem::replace(&mut seen[n], true) {
                    stack.extend_from_slice(&self.edges[n]);
                }
            }
            self.ancestors[step] = Some(seen);
        }
        self.ancestors[step]
            .as_ref()
            .is_some_and(|seen| seen[other])
    }
}

/// Report duplicate ids, unknown `needs` and cycles; return the graph for later checks.
pub(super) fn check(v: &mut Validator<'_, '_>) -> Graph {
    let steps = &v.rb.steps;
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        if let Some(&first) = index.get(step.id()) {
            v.out.push(
                Diagnostic::new(
                    format!("duplicate step id `{}`", step.id()),
                    step.id.span(),
                    "used again here",
                )
                .with_label(steps[first].id.span(), "first used here")
                .with_help(
                    "step ids name steps in `needs`, the journal and the CLI: make them unique",
                ),
            );
        } else {
            index.insert(step.id(), i);
        }
    }

    let ids: Vec<&str> = steps.iter().map(super::Step::id).collect();
    let mut edges = vec![Vec::new(); steps.len()];
    for (i, step) in steps.iter().enumerate() {
        for need in &step.needs {
            if let Some(&j) = index.get(need.get_ref().as_str()) {
                edges[i].push(j);
                continue;
            }
            let help = match closest(need.get_ref(), &ids) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "`needs` lists ids of other steps in this runbook".to_owned(),
            };
            v.out.push(
                Diagnostic::new(
                    format!(
                        "step `{}` needs unknown step `{}`",
                        step.id(),
                        need.get_ref()
                    ),
                    need.span(),
                    "no step has this id",
                )
                .with_help(help),
            );
        }
    }

    report_cycles(v, &edges);
    Graph {
        ancestors: vec![None; edges.len()],
        edges,
    }
}

/// Depth-first search; every back edge closes one cycle, reported at the `needs` entry that
/// closes it and named in full (`a → b → a`).
fn report_cycles(v: &mut Validator<'_, '_>, edges: &[Vec<usize>]) {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let steps = &v.rb.steps;
    let mut colour = vec![Colour::White; edges.len()];
    let mut path: Vec<usize> = Vec::new();
    for root in 0..edges.len() {
        if colour[root] != Colour::White {
            continue;
        }
        // Iterative, so a 10,000-step chain cannot overflow the stack: (node, next edge).
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        colour[root] = Colour::Grey;
        path.push(root);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = edges[node].get(*next) {
                *next += 1;
                match colour[child] {
                    Colour::White => {
                        colour[child] = Colour::Grey;
                        path.push(child);
                        stack.push((child, 0));
                    }
                    Colour::Grey => {
                        let from = path.iter().rposition(|&n| n == child).unwrap_or(0);
                        let names: Vec<&str> = path[from..]
                            .iter()
                            .chain(std::iter::once(&child))
                            .map(|&n| steps[n].id())
                            .collect();
                        let cycle = names.join(" → ");
                        let span = needs_span(v, node, child);
                        v.out.push(
                            Diagnostic::new(
                                format!("dependency cycle: {cycle}"),
                                span,
                                "closes the cycle",
                            )
                            .with_help(
                                "no step in a cycle can ever start: remove one of these `needs`",
                            ),
                        );
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                path.pop();
                stack.pop();
            }
        }
    }
}

/// The span of the `needs` entry of `node` that names `child`.
fn needs_span(v: &Validator<'_, '_>, node: usize, child: usize) -> std::ops::Range<usize> {
    let step = &v.rb.steps[node];
    let target = v.rb.steps[child].id();
    step.needs
        .iter()
        .find(|n| n.get_ref() == target)
        .map_or_else(|| step.id.span(), toml::Spanned::span)
}
