//! Declarative builders for the typed CSP model: one line per child element.
//!
//! `csp_struct!` declares an element with its children in content-model order (the union of
//! the 1.1, 1.2 and 1.3 models, like Baraza's single definition per element). Decoding accepts
//! children in any order and any alternative spelling; encoding writes them in the declared
//! order with the first spelling, then any unknown children kept from decoding.
//! `csp_enum!` declares an open vocabulary with an `Other(String)` case.

/// Declares a CSP element struct. Each field is `name: Option<T>` or `Vec<T>` followed by
/// `= "ElementName"` and optional `| "AlternativeSpelling"`s. `[xmlns = Pa]` writes that
/// namespace on the element; `[encode = path]` replaces the generated encoder (for elements
/// whose child order differs between versions).
macro_rules! csp_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $([xmlns = $ns:ident])? $([encode = $enc:path])? {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $xml:literal $(| $alias:literal)*
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Children this model does not know, kept in document order so that re-encoding
            /// loses nothing.
            pub unknown: Vec<$crate::codec::xml::RawElement>,
        }

        impl $name {
            /// Decodes the children of element `child` (named `name`) into `self`.
            #[allow(unused_mut, unused_variables)]
            fn decode_children(
                &mut self,
                r: &mut $crate::codec::xml::XmlIn<'_>,
                name: &str,
                child: &$crate::codec::xml::Child<'_>,
            ) -> Result<(), $crate::codec::xml::DecodeError> {
                // Compact: one loop every element shares, over its tables (per element only
                // the tables and the field accessors), for the WebAssembly module's size.
                #[cfg(feature = "compact")]
                return $crate::codec::xml::decode_fields(self, r, name, child);
                // Otherwise one match per element: faster natively.
                #[cfg(not(feature = "compact"))]
                {
                    #[allow(unused_imports)]
                    use $crate::codec::xml::Field as _;
                    let v = self;
                    if !child.empty {
                        while let Some(c) = r.next_child(name)? {
                            match c.local() {
                                $(
                                    $xml $(| $alias)* if v.$field.accepts_more() => {
                                        v.$field.decode_field(r, $xml, &c)?
                                    }
                                )*
                                _ => {
                                    let raw = r.capture(&c)?;
                                    v.unknown.push(raw);
                                }
                            }
                        }
                    }
                    Ok(())
                }
            }
        }

        impl $crate::codec::xml::Fields for $name {
            // Field indices are the discriminants of an enum named after the fields.
            const SPELLINGS: &'static [(&'static str, u8)] = {
                #[allow(non_camel_case_types, dead_code)]
                enum F { $( $field, )* }
                &[ $( ($xml, F::$field as u8), $( ($alias, F::$field as u8), )* )* ]
            };
            const NAMES: &'static [&'static str] = &[ $( $xml, )* ];

            #[allow(unused_variables)]
            fn field(&mut self, i: usize) -> Option<&mut dyn $crate::codec::xml::Field> {
                #[allow(non_camel_case_types, dead_code)]
                enum F { $( $field, )* }
                $( if i == F::$field as usize { return Some(&mut self.$field); } )*
                None
            }

            #[allow(unused_variables)]
            fn field_ref(&self, i: usize) -> Option<&dyn $crate::codec::xml::Field> {
                #[allow(non_camel_case_types, dead_code)]
                enum F { $( $field, )* }
                $( if i == F::$field as usize { return Some(&self.$field); } )*
                None
            }

            fn unknown(&mut self) -> &mut Vec<$crate::codec::xml::RawElement> {
                &mut self.unknown
            }

            fn unknown_ref(&self) -> &[$crate::codec::xml::RawElement] {
                &self.unknown
            }
        }

        impl $crate::codec::xml::XmlValue for $name {
            fn decode(
                r: &mut $crate::codec::xml::XmlIn<'_>,
                name: &str,
                child: &$crate::codec::xml::Child<'_>,
            ) -> Result<Option<Self>, $crate::codec::xml::DecodeError> {
                let mut v = Self::default();
                v.decode_children(r, name, child)?;
                Ok(Some(v))
            }

            fn decode_into(
                slot: &mut Option<Self>,
                r: &mut $crate::codec::xml::XmlIn<'_>,
                name: &str,
                child: &$crate::codec::xml::Child<'_>,
            ) -> Result<(), $crate::codec::xml::DecodeError> {
                slot.insert(Self::default()).decode_children(r, name, child)
            }

            fn decode_boxed(
                r: &mut $crate::codec::xml::XmlIn<'_>,
                name: &str,
                child: &$crate::codec::xml::Child<'_>,
            ) -> Result<Box<Self>, $crate::codec::xml::DecodeError> {
                let mut v = Box::<Self>::default();
                v.decode_children(r, name, child)?;
                Ok(v)
            }

            #[allow(unreachable_code)]
            fn encode(&self, name: &str, w: &mut $crate::codec::xml::XmlOut) {
                #[allow(unused_imports)]
                use $crate::codec::xml::Field as _;
                $( return $enc(self, name, w); )?
                w.open(name);
                $( w.namespace($crate::codec::Ns::$ns.uri(w.version)); )?
                #[cfg(feature = "compact")]
                $crate::codec::xml::encode_fields(self, w);
                #[cfg(not(feature = "compact"))]
                {
                    #[allow(unused_imports)]
                    use $crate::codec::xml::Field as _;
                    $( self.$field.encode_field($xml, w); )*
                    for u in &self.unknown {
                        u.encode(w);
                    }
                }
                w.close(name);
            }
        }
    };
}
pub(crate) use csp_struct;

/// Declares an open CSP vocabulary: `Variant = "Text" | "alternative spelling"`.
/// Matching is exact first, then ASCII case-insensitive; anything else is kept in `Other`.
macro_rules! csp_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( #[doc = concat!("`", $text, "`")] $(#[$vmeta])* $variant, )*
            /// A value outside the known vocabulary, kept as sent.
            Other(String),
        }

        impl $name {
            /// The protocol spelling of the value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(s) => s,
                }
            }

            /// Reads a value: known spellings (any ASCII case) map to their variant.
            pub fn parse(text: &str) -> Self {
                let t = text.trim();
                $( if t == $text $(|| t == $alias)* { return Self::$variant; } )*
                $( if t.eq_ignore_ascii_case($text) $(|| t.eq_ignore_ascii_case($alias))* { return Self::$variant; } )*
                Self::Other(text.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::codec::xml::TextValue for $name {
            fn parse_text(text: std::borrow::Cow<'_, str>) -> Result<Self, String> {
                Ok(Self::parse(&text))
            }
            fn write_text(&self, w: &mut $crate::codec::xml::XmlOut) {
                match self {
                    $(
                        Self::$variant => {
                            // The vocabulary is written as it is: nothing in it to escape.
                            const _: () = assert!($crate::codec::xml::plain($text));
                            w.plain_text($text)
                        }
                    )*
                    Self::Other(s) => w.text(s),
                }
            }
        }

        $crate::codec::xml::text_xml_value!($name);
    };
}
pub(crate) use csp_enum;

/// Declares the `Primitive` enum (the content of `TransactionContent`) from
/// `Variant(Type) = "Element-Name" | "Alternative-Name"` lines.
macro_rules! csp_primitives {
    (
        $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $xml:literal $(| $alias:literal)* ),* $(,)?
    ) => {
        /// One CSP primitive: the single child of `TransactionContent`. Payloads are boxed:
        /// primitive structs are large unions and the enum is moved around a lot.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Primitive {
            $( $(#[$vmeta])* $variant(Box<$ty>), )*
            /// An element that names no primitive this codec knows, kept whole.
            Unknown($crate::codec::xml::RawElement),
        }

        impl Primitive {
            /// The element name of every primitive this codec knows, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$( $xml, )*];

            /// The element name of the primitive as this codec writes it.
            pub fn name(&self) -> &str {
                match self {
                    $( Primitive::$variant(_) => $xml, )*
                    Primitive::Unknown(raw) => raw.local_name(),
                }
            }

            /// The element name of a known primitive (`None` for [`Primitive::Unknown`]).
            pub(crate) fn known_name(&self) -> Option<&'static str> {
                match self {
                    $( Primitive::$variant(_) => Some($xml), )*
                    Primitive::Unknown(_) => None,
                }
            }

            pub(crate) fn decode_child(
                r: &mut $crate::codec::xml::XmlIn<'_>,
                c: &$crate::codec::xml::Child<'_>,
            ) -> Result<Self, $crate::codec::xml::DecodeError> {
                Ok(match c.local() {
                    $(
                        $xml $(| $alias)* => {
                            Primitive::$variant(
                                <$ty as $crate::codec::xml::XmlValue>::decode_boxed(r, $xml, c)?,
                            )
                        }
                    )*
                    _ => Primitive::Unknown(r.capture(c)?),
                })
            }

            pub(crate) fn encode_into(&self, w: &mut $crate::codec::xml::XmlOut) {
                match self {
                    $( Primitive::$variant(v) => <$ty as $crate::codec::xml::XmlValue>::encode(&**v, $xml, w), )*
                    Primitive::Unknown(raw) => raw.encode(w),
                }
            }
        }
    };
}
pub(crate) use csp_primitives;
