//! `#[derive(Declare)]`: a type's one declaration, derived from its typed
//! properties struct (`baton_model::decl`).
//!
//! The struct is what serde parses a task's rendered properties into; this
//! derive reads the same struct — serde's own attributes for the names
//! (`rename_all`, `rename`), what is optional (`Option`, `default`), what
//! is not a property (`skip`) and shared groups (`flatten`), and the doc
//! comments for the words — so the parser, the validator, the docs, the
//! JSON Schema and the editor's completion cannot disagree about a
//! property. What serde does not say is added with `#[prop(...)]` on a
//! field (a kind the Rust type does not tell, a default as users see it,
//! enum values, rendered or not, a check of a written value) and
//! `#[plugin(...)]` on the struct (the
//! Kestra type name, aliases, worker group, example, outputs, and
//! `outputs_of = path::to::fn` for outputs several types share).
//!
//! Written here rather than taken from `schemars`: Baton's declaration is
//! not a JSON Schema — it carries validation kinds of its own (durations,
//! a string or a list), the worker group, which properties stay unrendered,
//! outputs and examples — and the schema Baton serves is generated from the
//! declaration, not the other way round.
//!
//! ```ignore
//! /// Reverse the lines of a stored file.
//! ///
//! /// Writes a new file with the lines of `from` in reverse order.
//! #[derive(Deserialize, Declare)]
//! #[serde(rename_all = "camelCase")]
//! #[plugin(type = "io.kestra.plugin.core.storage.Reverse", group = "core",
//!          aliases = ["io.kestra.core.tasks.storages.Reverse"],
//!          outputs(uri(String, "The reversed file.")))]
//! struct Props {
//!     /// The file (kestra:// URI).
//!     from: String,
//!     /// The line separator.
//!     #[serde(default)]
//!     #[prop(default = "\"\\n\"")]
//!     separator: Option<String>,
//! }
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Error, Expr, ExprArray, Fields, GenericArgument, Lit, LitStr, PathArguments, Type,
};

/// Derives `baton_model::decl::DeclaredProps`, and `Declared` when the
/// struct names its type with `#[plugin(type = "...")]`.
#[proc_macro_derive(Declare, attributes(plugin, prop))]
pub fn derive_declare(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

const KINDS: &[&str] = &["String", "Integer", "Number", "Boolean", "Duration", "List", "Map", "StringOrList", "Any"];

/// What `#[plugin(...)]` says of the struct.
#[derive(Default)]
struct TypeAttrs {
    /// A string literal, or a path to a `&str` constant the type's name
    /// already has elsewhere.
    type_name: Option<Expr>,
    /// String literals, or paths to `&str` constants.
    aliases: Vec<Expr>,
    group: Option<LitStr>,
    example: Option<LitStr>,
    outputs: Vec<(LitStr, Tokens, LitStr)>,
    /// A function returning outputs several types share
    /// (`fn() -> Vec<OutDecl>`), listed after `outputs(...)`.
    outputs_of: Option<syn::Path>,
    /// The struct the properties come from, when it is not this one (a
    /// task struct declaring a type whose properties struct several types
    /// share).
    props: Option<syn::Path>,
}

/// What serde and `#[prop(...)]` say of one field.
#[derive(Default)]
struct FieldAttrs {
    rename: Option<String>,
    serde_default: bool,
    skip: bool,
    flatten: bool,
    kind: Option<Tokens>,
    default: Option<LitStr>,
    values: Vec<LitStr>,
    dynamic: Option<bool>,
    unrendered: bool,
    required: Option<bool>,
    check: Option<syn::Path>,
    /// A list of child tasks (a flowable's `tasks`, `then`, `cases`…):
    /// declared, though serde skips it (the flow loader parses children).
    children: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(input.generics.span(), "Declare: a properties struct takes no generics"));
    }
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(input.span(), "Declare: only a struct can be derived"));
    };
    let (rename_all, all_default) = container_serde(&input.attrs)?;
    let type_attrs = type_attrs(&input.attrs)?;
    let own_fields = match (&type_attrs.props, &data.fields) {
        // the properties are another struct's: this one's fields are not read
        (Some(_), _) => None,
        (None, Fields::Named(fields)) => Some(fields),
        // a type with no properties
        (None, Fields::Unit) => None,
        (None, Fields::Unnamed(_)) => {
            return Err(Error::new(
                input.span(),
                "Declare: the properties struct needs named fields (or #[plugin(props = ...)])",
            ));
        }
    };

    let mut pushes = Vec::new();
    if let Some(other) = &type_attrs.props {
        pushes.push(quote! { v.extend(<#other as ::baton_model::decl::DeclaredProps>::props()); });
    }
    for field in own_fields.iter().flat_map(|f| f.named.iter()) {
        let attrs = field_attrs(&field.attrs)?;
        if attrs.skip && !attrs.children {
            continue;
        }
        let ty = &field.ty;
        if attrs.flatten {
            pushes.push(quote! { v.extend(<#ty as ::baton_model::decl::DeclaredProps>::props()); });
            continue;
        }
        let ident = field.ident.as_ref().expect("named field").to_string();
        let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_string();
        let name = match &attrs.rename {
            Some(n) => n.clone(),
            None => rename(&ident, rename_all.as_deref()),
        };
        let (inner, optional) = unwrap_option(ty);
        let kind = match attrs.kind.clone() {
            Some(k) => k,
            None => infer_kind(inner).ok_or_else(|| {
                Error::new(
                    ty.span(),
                    format!("Declare: the kind of property '{name}' cannot be told from its type: add #[prop(kind = \"...\")] (one of {})", KINDS.join(", ")),
                )
            })?,
        };
        let required = attrs.required.unwrap_or(!optional && !attrs.serde_default && !all_default);
        let doc = doc_lines(&field.attrs).join(" ");
        let default = match &attrs.default {
            Some(d) => quote! { ::core::option::Option::Some(#d) },
            None => quote! { ::core::option::Option::None },
        };
        let values = &attrs.values;
        let dynamic = match attrs.dynamic {
            Some(b) => quote! { ::core::option::Option::Some(#b) },
            None => quote! { ::core::option::Option::None },
        };
        let unrendered = attrs.unrendered;
        let children = attrs.children;
        let check = match &attrs.check {
            Some(path) => quote! { ::core::option::Option::Some(#path) },
            None => quote! { ::core::option::Option::None },
        };
        pushes.push(quote! {
            v.push(::baton_model::decl::PropDecl {
                name: #name,
                kind: ::baton_model::props::PropKind::#kind,
                required: #required,
                doc: #doc,
                default: #default,
                values: &[#(#values),*],
                dynamic: #dynamic,
                unrendered: #unrendered,
                check: #check,
                children: #children,
            });
        });
    }

    let ident = &input.ident;
    let mut out = quote! {
        impl ::baton_model::decl::DeclaredProps for #ident {
            fn props() -> ::std::vec::Vec<::baton_model::decl::PropDecl> {
                let mut v = ::std::vec::Vec::new();
                #(#pushes)*
                v
            }
        }
    };
    if let Some(type_name) = &type_attrs.type_name {
        let paragraphs = paragraphs(&input.attrs);
        let title = paragraphs.first().cloned().unwrap_or_default();
        let description = paragraphs.get(1..).map(|p| p.join("\n\n")).unwrap_or_default();
        let aliases = &type_attrs.aliases;
        let group = type_attrs.group.clone().unwrap_or_else(|| LitStr::new("", Span::call_site()));
        let example = type_attrs.example.clone().unwrap_or_else(|| LitStr::new("", Span::call_site()));
        let outputs = type_attrs.outputs.iter().map(|(name, kind, doc)| {
            quote! {
                ::baton_model::decl::OutDecl { name: #name, kind: ::baton_model::props::PropKind::#kind, doc: #doc }
            }
        });
        let shared_outputs = type_attrs.outputs_of.iter().map(|f| quote! { outputs.extend(#f()); });
        out.extend(quote! {
            impl ::baton_model::decl::Declared for #ident {
                fn declaration() -> ::baton_model::decl::TypeDecl {
                    #[allow(unused_mut)]
                    let mut outputs: ::std::vec::Vec<::baton_model::decl::OutDecl> = ::std::vec![#(#outputs),*];
                    #(#shared_outputs)*
                    ::baton_model::decl::TypeDecl {
                        type_name: #type_name,
                        aliases: &[#(#aliases),*],
                        group: #group,
                        title: #title,
                        description: #description,
                        example: #example,
                        outputs,
                        props: <Self as ::baton_model::decl::DeclaredProps>::props(),
                    }
                }
            }
        });
    }
    Ok(out)
}

/// `#[serde(rename_all = "...")]` on the struct, and whether it has
/// `#[serde(default)]` (every field optional).
fn container_serde(attrs: &[Attribute]) -> syn::Result<(Option<String>, bool)> {
    let mut out = None;
    let mut default = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                out = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("default") {
                default = true;
                if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<Expr>()?;
                }
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|m| {
                    if m.input.peek(syn::Token![=]) {
                        m.value()?.parse::<Expr>()?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    }
    Ok((out, default))
}

fn type_attrs(attrs: &[Attribute]) -> syn::Result<TypeAttrs> {
    let mut out = TypeAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("plugin")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("type") {
                out.type_name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("aliases") {
                out.aliases = meta.value()?.parse::<ExprArray>()?.elems.into_iter().collect();
            } else if meta.path.is_ident("group") {
                out.group = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("example") {
                out.example = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("props") {
                out.props = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("outputs_of") {
                out.outputs_of = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("outputs") {
                // outputs(uri(String, "The file."), size(Integer, "Its bytes.")): positional,
                // so that no `key = value` repeats inside the attribute
                meta.parse_nested_meta(|m| {
                    let Some(name) = m.path.get_ident().map(|i| LitStr::new(&i.to_string(), i.span())) else {
                        return Err(m.error("Declare: an output is `name(Kind, \"doc\")`"));
                    };
                    let content;
                    syn::parenthesized!(content in m.input);
                    let kind: syn::Ident = content.parse()?;
                    content.parse::<syn::Token![,]>()?;
                    let doc: LitStr = content.parse()?;
                    let kind = kind_tokens(&LitStr::new(&kind.to_string(), kind.span()))?;
                    out.outputs.push((name, kind, doc));
                    Ok(())
                })?;
            } else {
                return Err(meta.error(
                    "Declare: #[plugin] takes type, aliases, group, example, props, outputs(...) and outputs_of",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn field_attrs(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("serde") {
            attr.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("rename") {
                    if meta.input.peek(syn::token::Paren) {
                        // rename(deserialize = "…", serialize = "…"): the name read
                        meta.parse_nested_meta(|m| {
                            let v = m.value()?.parse::<LitStr>()?.value();
                            if m.path.is_ident("deserialize") {
                                out.rename = Some(v);
                            }
                            Ok(())
                        })?;
                    } else {
                        out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                    }
                } else if p.is_ident("default") {
                    out.serde_default = true;
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<LitStr>()?;
                    }
                } else if p.is_ident("skip") || p.is_ident("skip_deserializing") {
                    out.skip = true;
                } else if p.is_ident("flatten") {
                    out.flatten = true;
                } else if p.is_ident("alias") {
                    return Err(meta.error(
                        "Declare: a serde alias would accept a property the declaration does not list; declare it as its own field",
                    ));
                } else if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<Expr>()?;
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("prop") {
            attr.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("kind") {
                    out.kind = Some(kind_tokens(&meta.value()?.parse::<LitStr>()?)?);
                } else if p.is_ident("default") {
                    out.default = Some(meta.value()?.parse()?);
                } else if p.is_ident("values") {
                    out.values = strings(&meta.value()?.parse::<ExprArray>()?)?;
                } else if p.is_ident("fixed") {
                    out.dynamic = Some(false);
                } else if p.is_ident("dynamic") {
                    out.dynamic = Some(true);
                } else if p.is_ident("unrendered") {
                    out.unrendered = true;
                } else if p.is_ident("required") {
                    out.required = Some(true);
                } else if p.is_ident("optional") {
                    out.required = Some(false);
                } else if p.is_ident("check") {
                    out.check = Some(meta.value()?.parse()?);
                } else if p.is_ident("children") {
                    out.children = true;
                    out.dynamic = Some(false);
                } else {
                    return Err(meta.error(
                        "Declare: #[prop] takes kind, default, values, fixed, dynamic, unrendered, required, optional, check and children",
                    ));
                }
                Ok(())
            })?;
        }
    }
    Ok(out)
}

fn kind_tokens(lit: &LitStr) -> syn::Result<Tokens> {
    let k = lit.value();
    if !KINDS.contains(&k.as_str()) {
        return Err(Error::new(lit.span(), format!("Declare: unknown kind '{k}' (one of {})", KINDS.join(", "))));
    }
    let ident = syn::Ident::new(&k, lit.span());
    Ok(quote! { #ident })
}

fn strings(array: &ExprArray) -> syn::Result<Vec<LitStr>> {
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Str(s) => Ok(s.clone()),
                other => Err(Error::new(other.span(), "Declare: expected a string")),
            },
            other => Err(Error::new(other.span(), "Declare: expected a string")),
        })
        .collect()
}

/// The type inside `Option<…>`, and whether there was one.
fn unwrap_option(ty: &Type) -> (&Type, bool) {
    match single_arg(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    }
}

/// `T` of `Name<T>`.
fn single_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// The kind a Rust type tells: strings, integers, numbers, booleans,
/// lists, maps and JSON values; `None` for any other type.
fn infer_kind(ty: &Type) -> Option<Tokens> {
    if let Some(inner) = single_arg(ty, "Box").or_else(|| single_arg(ty, "Arc")) {
        return infer_kind(inner);
    }
    let Type::Path(p) = ty else { return None };
    let name = p.path.segments.last()?.ident.to_string();
    let kind = match name.as_str() {
        "String" | "str" | "Cow" => "String",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "Integer",
        "f32" | "f64" => "Number",
        "bool" => "Boolean",
        "Vec" | "HashSet" | "BTreeSet" => "List",
        "HashMap" | "BTreeMap" | "Map" | "IndexMap" => "Map",
        "Value" => "Any",
        _ => return None,
    };
    let ident = syn::Ident::new(kind, Span::call_site());
    Some(quote! { #ident })
}

/// A field name as serde's `rename_all` spells it.
fn rename(ident: &str, rule: Option<&str>) -> String {
    let words: Vec<&str> = ident.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
    };
    match rule {
        Some("camelCase") => {
            words.iter().enumerate().map(|(i, w)| if i == 0 { w.to_string() } else { cap(w) }).collect()
        }
        Some("PascalCase") => words.iter().map(|w| cap(w)).collect(),
        Some("lowercase") => ident.to_lowercase(),
        Some("UPPERCASE") => ident.to_uppercase(),
        Some("SCREAMING_SNAKE_CASE") => ident.to_uppercase(),
        Some("kebab-case") => ident.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => ident.replace('_', "-").to_uppercase(),
        _ => ident.to_string(),
    }
}

/// The doc comment's lines, each without its leading space.
fn doc_lines(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_string())
        .collect()
}

/// The doc comment's paragraphs, each one line (its lines joined by spaces).
fn paragraphs(attrs: &[Attribute]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in doc_lines(attrs) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line.trim().to_string());
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}
