//! The prefilled texts Chasqui ships, per context and locale; tenants may override any of them.
//!
//! Invoice and generic texts are written as the customer writing to the business (they scan the
//! QR on the invoice, or tap a button on the website); customer-profile and job-confirmation
//! texts as the business writing to its customer. Spanish for Argentina uses voseo.

use super::LinkContext;

/// Locales with shipped texts for every context.
pub const BUILTIN_LOCALES: &[&str] = &["es", "es-AR", "en", "fr", "pt", "pt-BR"];

/// The shipped text for a context in exactly this locale, if there is one.
pub(crate) fn builtin(context: LinkContext, locale: &str) -> Option<&'static str> {
    use LinkContext::{CustomerProfile, Generic, Invoice, JobConfirmation};
    Some(match (locale, context) {
        ("es-AR", Invoice) => {
            "¡Hola! Te escribo por la factura {{number}} de {{amount}}. ¿Me podés ayudar con esto?"
        }
        ("es-AR", CustomerProfile) => {
            "¡Hola, {{customer_name}}! ¿Cómo estás? Te escribimos por acá para lo que necesites."
        }
        ("es-AR", JobConfirmation) => {
            "¡Hola! Te confirmamos el trabajo \"{{job}}\" para el {{date}} en {{address}}. \
             Si necesitás cambiar algo, avisanos por acá."
        }
        ("es-AR", Generic) => "¡Hola! Te escribo para hacerte una consulta.",

        ("es", Invoice) => {
            "¡Hola! Te escribo por la factura {{number}} de {{amount}}. ¿Me puedes ayudar con esto?"
        }
        ("es", CustomerProfile) => {
            "¡Hola, {{customer_name}}! ¿Cómo estás? Te escribimos por aquí para lo que necesites."
        }
        ("es", JobConfirmation) => {
            "¡Hola! Te confirmamos el trabajo \"{{job}}\" para el {{date}} en {{address}}. \
             Si necesitas cambiar algo, avísanos por aquí."
        }
        ("es", Generic) => "¡Hola! Quería hacerte una consulta.",

        ("en", Invoice) => {
            "Hi! I'm writing about invoice {{number}} for {{amount}}. Could you help me with it?"
        }
        ("en", CustomerProfile) => {
            "Hi {{customer_name}}! We're reaching out in case you need anything: just reply to this message."
        }
        ("en", JobConfirmation) => {
            "Hi! We're confirming the job \"{{job}}\" on {{date}} at {{address}}. \
             If you need to change anything, just reply here."
        }
        ("en", Generic) => "Hi! I'd like to ask a question.",

        ("fr", Invoice) => {
            "Bonjour, je vous contacte au sujet de la facture {{number}} d'un montant de {{amount}}. \
             Pourriez-vous m'aider ?"
        }
        ("fr", CustomerProfile) => {
            "Bonjour {{customer_name}}, nous restons à votre disposition ici. N'hésitez pas à répondre à ce message."
        }
        ("fr", JobConfirmation) => {
            "Bonjour, nous vous confirmons l'intervention « {{job}} » le {{date}} à l'adresse suivante : {{address}}. \
             Pour toute modification, répondez simplement à ce message."
        }
        ("fr", Generic) => "Bonjour, j'aurais une question.",

        ("pt-BR", Invoice) => {
            "Olá! Estou entrando em contato sobre a fatura {{number}} no valor de {{amount}}. Você pode me ajudar?"
        }
        ("pt-BR", CustomerProfile) => {
            "Olá, {{customer_name}}! Tudo bem? Estamos à disposição por aqui para o que você precisar."
        }
        ("pt-BR", JobConfirmation) => {
            "Olá! Confirmamos o serviço \"{{job}}\" para {{date}} no endereço {{address}}. \
             Se precisar alterar algo, é só responder esta mensagem."
        }
        ("pt-BR", Generic) => "Olá! Gostaria de tirar uma dúvida.",

        ("pt", Invoice) => {
            "Olá! Escrevo a propósito da fatura {{number}} no valor de {{amount}}. Pode ajudar-me?"
        }
        ("pt", CustomerProfile) => {
            "Olá, {{customer_name}}! Estamos disponíveis por aqui para o que precisar."
        }
        ("pt", JobConfirmation) => {
            "Olá! Confirmamos o serviço \"{{job}}\" para {{date}} na morada {{address}}. \
             Se precisar de alterar alguma coisa, basta responder a esta mensagem."
        }
        ("pt", Generic) => "Olá! Gostaria de esclarecer uma dúvida.",

        _ => return None,
    })
}
