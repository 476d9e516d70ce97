//! The templates every sandbox WhatsApp Business Account has, in Meta's template shape, so
//! template sync, template sends and previews work with no Meta account.

use serde_json::{Value, json};

/// The sandbox WABA's templates, as `GET /{waba-id}/message_templates` lists them.
pub fn catalog() -> Vec<Value> {
    vec![
        json!({
            "id": "1040000000000001",
            "name": "hello_world",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
                {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
                {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}
            ]
        }),
        json!({
            "id": "1040000000000002",
            "name": "reserva_confirmada",
            "language": "es_AR",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Reserva confirmada"},
                {"type": "BODY", "text": "Hola {{1}}, tu reserva para {{2}} quedó confirmada para el {{3}}. Si necesitás cambiarla, respondé este mensaje.",
                 "example": {"body_text": [["Lucía", "servicio técnico", "martes 14 a las 10:00"]]}},
                {"type": "FOOTER", "text": "Enviado con Chasqui"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Confirmar"},
                    {"type": "QUICK_REPLY", "text": "Cambiar fecha"}
                ]}
            ]
        }),
        json!({
            "id": "1040000000000003",
            "name": "order_update",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is {{3}}. Reply to this message if you have any questions.",
                 "example": {"body_text": [["Sam", "#10482", "on its way"]]}},
                {"type": "BUTTONS", "buttons": [
                    {"type": "URL", "text": "Track order", "url": "https://example.com/orders/{{1}}", "example": ["https://example.com/orders/10482"]}
                ]}
            ]
        }),
        json!({
            "id": "1040000000000004",
            "name": "reparation_prete",
            "language": "fr",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "BODY", "text": "Bonjour {{1}}, votre {{2}} est réparé et vous attend à l'atelier. Vous pouvez passer le récupérer dès {{3}}.",
                 "example": {"body_text": [["Marie", "téléphone", "demain 9 h"]]}},
                {"type": "FOOTER", "text": "Répondez STOP pour ne plus recevoir de messages"}
            ]
        }),
        json!({
            "id": "1040000000000005",
            "name": "verification_code",
            "language": "en_US",
            "status": "APPROVED",
            "category": "AUTHENTICATION",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "BODY", "text": "*{{1}}* is your verification code. For your security, do not share this code.", "add_security_recommendation": true,
                 "example": {"body_text": [["123456"]]}},
                {"type": "FOOTER", "text": "This code expires in 10 minutes.", "code_expiration_minutes": 10},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}
            ]
        }),
        json!({
            "id": "1040000000000006",
            "name": "promo_fin_de_temporada",
            "language": "es_MX",
            "status": "REJECTED",
            "category": "MARKETING",
            "rejected_reason": "PROMOTIONAL",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "BODY", "text": "¡{{1}}, aprovecha 50% de descuento en toda la tienda solo este fin de semana!",
                 "example": {"body_text": [["Carlos"]]}}
            ]
        }),
    ]
}

/// A template of the catalog by name and exact language.
pub fn find(name: &str, language: &str) -> Option<Value> {
    catalog()
        .into_iter()
        .find(|t| t["name"] == name && t["language"] == language)
}

fn component<'a>(template: &'a Value, kind: &str) -> Option<&'a Value> {
    template.get("components")?.as_array()?.iter().find(|c| {
        c.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    })
}

/// The distinct `{{…}}` placeholders of a text, in order of appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim().to_owned();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 2..];
    }
    out
}

/// How many parameters a template's body and text header expect.
pub fn expected_params(template: &Value) -> (usize, usize) {
    let text = |kind: &str| {
        component(template, kind)
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
            .map(|t| placeholders(t).len())
            .unwrap_or(0)
    };
    (text("HEADER"), text("BODY"))
}

/// The text of one send parameter: `text`, or the fallback of a currency or date.
fn parameter_text(p: &Value) -> String {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    s(p.get("text"))
        .or_else(|| s(p.get("currency").and_then(|c| c.get("fallback_value"))))
        .or_else(|| s(p.get("date_time").and_then(|c| c.get("fallback_value"))))
        .or_else(|| s(p.get("payload")))
        .unwrap_or_else(|| {
            format!(
                "[{}]",
                p.get("type").and_then(Value::as_str).unwrap_or("parameter")
            )
        })
}

/// The parameters given for one component type (`body`, `header`) in a send.
pub fn send_params<'a>(components: Option<&'a Value>, kind: &str) -> Vec<&'a Value> {
    components
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| {
            c.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .flat_map(|c| {
            c.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .collect()
}

fn fill(text: &str, params: &[&Value], named: bool) -> String {
    let names = placeholders(text);
    let mut out = text.to_owned();
    for (i, name) in names.iter().enumerate() {
        let value = if named {
            params
                .iter()
                .find(|p| p.get("parameter_name").and_then(Value::as_str) == Some(name))
                .map(|p| parameter_text(p))
        } else {
            params.get(i).map(|p| parameter_text(p))
        };
        if let Some(v) = value {
            out = out.replace(&format!("{{{{{name}}}}}"), &v);
        }
    }
    out
}

/// The template as the customer sees it, parameters filled in: header, body and footer joined
/// by blank lines.
pub fn render(template: &Value, components: Option<&Value>) -> String {
    let named = template.get("parameter_format").and_then(Value::as_str) == Some("NAMED");
    let mut parts = Vec::new();
    for (kind, given) in [("HEADER", "header"), ("BODY", "body"), ("FOOTER", "footer")] {
        if let Some(text) = component(template, kind)
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
        {
            let params = send_params(components, given);
            parts.push(fill(text, &params, named));
        }
    }
    parts.join("\n\n")
}

/// The quick-reply buttons of a template (`(payload-or-title, title)`), so a simulated customer
/// can tap them.
pub fn quick_replies(template: &Value, components: Option<&Value>) -> Vec<(String, String)> {
    let Some(buttons) = component(template, "BUTTONS")
        .and_then(|c| c.get("buttons"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let payloads: Vec<(usize, String)> = components
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("sub_type").and_then(Value::as_str) == Some("quick_reply"))
        .filter_map(|c| {
            let index = match c.get("index") {
                Some(Value::String(s)) => s.parse().ok()?,
                Some(Value::Number(n)) => usize::try_from(n.as_u64()?).ok()?,
                _ => return None,
            };
            let payload = c
                .get("parameters")?
                .get(0)?
                .get("payload")?
                .as_str()?
                .to_owned();
            Some((index, payload))
        })
        .collect();
    buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| b.get("type").and_then(Value::as_str) == Some("QUICK_REPLY"))
        .filter_map(|(i, b)| {
            let title = b.get("text")?.as_str()?.to_owned();
            let payload = payloads
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| title.clone());
            Some((payload, title))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_renders_and_counts_parameters() {
        let t = find("reserva_confirmada", "es_AR").unwrap();
        assert_eq!(expected_params(&t), (0, 3));
        let comps = json!([{"type": "body", "parameters": [
            {"type": "text", "text": "Lucía"}, {"type": "text", "text": "el service"},
            {"type": "date_time", "date_time": {"fallback_value": "martes 14"}}]},
            {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "CHANGE"}]}]);
        let text = render(&t, Some(&comps));
        assert!(
            text.starts_with("Reserva confirmada\n\nHola Lucía, tu reserva para el service"),
            "{text}"
        );
        assert!(text.ends_with("Enviado con Chasqui"));
        assert_eq!(
            quick_replies(&t, Some(&comps)),
            vec![
                ("Confirmar".to_owned(), "Confirmar".to_owned()),
                ("CHANGE".to_owned(), "Cambiar fecha".to_owned())
            ]
        );
        assert_eq!(
            placeholders("{{1}} {{2}} {{1}} {{name}}"),
            vec!["1", "2", "name"]
        );
        assert!(find("reserva_confirmada", "es").is_none());
        assert_eq!(
            catalog()
                .iter()
                .filter(|t| t["status"] == "APPROVED")
                .count(),
            5
        );
    }
}
