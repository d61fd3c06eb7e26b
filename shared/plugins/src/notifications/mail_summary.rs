//! The bodies of `MailExecution`: the execution summary as a small HTML
//! page (title coloured by state, the custom message, the outcome, a
//! button to the execution's page when `BATON_URL` is set, the facts and
//! the custom fields) and as plain text. Every value is HTML-escaped.

use super::summary::Summary;

/// `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn color(s: &Summary) -> &'static str {
    match s.state.as_str() {
        "SUCCESS" => "green",
        "WARNING" => "orange",
        _ => "red",
    }
}

/// The facts shown, in order.
fn facts(s: &Summary) -> Vec<(String, String)> {
    let mut v = vec![
        ("Namespace".to_string(), s.namespace.clone()),
        ("Flow".to_string(), s.flow_id.clone()),
        ("Execution".to_string(), s.id.clone()),
        ("Status".to_string(), s.state.as_str().to_string()),
    ];
    if let Some(t) = &s.last_task {
        v.push(("Final task ID".to_string(), t.clone()));
    }
    v.extend(s.custom_text());
    v
}

/// The HTML body.
pub fn html(s: &Summary) -> String {
    const P: &str = "<p style=\"font-family: sans-serif; font-size: 14px; margin: 0 0 12px 0;\">";
    let mut out = String::new();
    out.push_str(
        "<!doctype html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n",
    );
    out.push_str(&format!(
        "<title>Flow [{}] {} execution</title>\n</head>\n",
        escape(&s.namespace),
        escape(&s.flow_id)
    ));
    out.push_str("<body style=\"background-color: #f6f6f6; padding: 16px;\">\n<div style=\"background: #ffffff; max-width: 580px; margin: 0 auto; padding: 20px; border-radius: 3px;\">\n");
    out.push_str(&format!(
        "<p style=\"font-family: sans-serif; font-size: 16px; margin: 0 0 12px 0;\">[{}] {} ➛ <span style=\"color: {};\">{}</span></p>\n",
        escape(&s.namespace),
        escape(&s.flow_id),
        color(s),
        s.state.as_str()
    ));
    if let Some(m) = &s.custom_message {
        out.push_str(&format!("{P}{}</p>\n", escape(m)));
    }
    let outcome = match &s.first_failed {
        None => format!("Succeeded after {}", escape(&s.duration)),
        Some(t) => format!("Failed on task <code>{}</code> after {}", escape(t), escape(&s.duration)),
    };
    out.push_str(&format!("{P}{outcome}</p>\n"));
    if let Some(link) = &s.link {
        out.push_str(&format!(
            "<p style=\"margin: 0 0 16px 0;\"><a href=\"{}\" target=\"_blank\" style=\"display: inline-block; color: #ffffff; background-color: #3498db; border-radius: 5px; padding: 10px 20px; text-decoration: none; font-family: sans-serif; font-weight: bold;\">See details</a></p>\n",
            escape(link)
        ));
    }
    for (k, v) in facts(s) {
        out.push_str(&format!("{P}<strong>{}:</strong> {}</p>\n", escape(&k), escape(&v)));
    }
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

/// The plain text body.
pub fn text(s: &Summary) -> String {
    let mut out = format!("{}\n", s.title());
    if let Some(m) = &s.custom_message {
        out.push_str(&format!("\n{m}\n"));
    }
    out.push_str(&format!("\n{}\n\n", s.outcome()));
    for (k, v) in facts(s) {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if let Some(link) = &s.link {
        out.push_str(&format!("\nDetails: {link}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::StateType;

    #[test]
    fn values_are_escaped_and_the_failed_task_named() {
        let s = Summary {
            id: "E1".into(),
            namespace: "company.team".into(),
            flow_id: "f".into(),
            state: StateType::Failed,
            duration: "0:00:01.000".into(),
            start_date: chrono::Utc::now(),
            link: Some("https://b.io/ui/main/executions/company.team/f/E1".into()),
            last_task: Some("boom".into()),
            first_failed: Some("boom".into()),
            custom_message: Some("<b>look</b>".into()),
            custom_fields: vec![("env".into(), serde_json::json!("prod"))],
        };
        let h = html(&s);
        assert!(h.contains("&lt;b&gt;look&lt;/b&gt;"));
        assert!(h.contains("Failed on task <code>boom</code> after 0:00:01.000"));
        assert!(h.contains("href=\"https://b.io/ui/main/executions/company.team/f/E1\""));
        assert!(h.contains("<strong>env:</strong> prod"));
        let t = text(&s);
        assert!(t.starts_with("[company.team] f ➛ FAILED\n"));
        assert!(t.contains("Final task ID: boom\nenv: prod\n"));
    }
}
