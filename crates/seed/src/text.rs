//! Names, titles and comments. Deliberately full of HTML special characters
//! (`<script>`, `&`, quotes) and non-ASCII text, so every page, test and
//! benchmark exercises escaping and UTF-8, as real user text would.

use std::fmt::Write;

use crate::rng::Rng;

const FIRST: &[&str] = &[
    "Alice",
    "Bob",
    "Zoë",
    "José",
    "Łukasz",
    "Renée",
    "Søren",
    "Anaïs",
    "Guido",
    "Tim",
    "Ada",
    "Grace",
    "Linus",
    "Mónica",
    "Jürgen",
    "Chloé",
    "Dmitri",
    "Ines",
    "Kenji",
    "美咲",
    "Олег",
    "<b>Bold</b>",
    "O'Neil",
    "\"Ace\"",
    "Tom & Jerry",
    "Margaret",
    "Yusuf",
    "Aroha",
    "Björk",
    "Nuño",
];
const LAST: &[&str] = &[
    "Smith",
    "Müller",
    "García",
    "O'Brien",
    "Nguyễn",
    "Kowalski",
    "Dubois",
    "van Rossum",
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Ødegaard",
    "Ivanova",
    "田中",
    "Silva",
    "<script>alert(1)</script>",
    "Fernández",
    "Weiß",
    "Nakamura",
    "\"Danger\" Mouse",
    "& Sons",
    "Papadopoulos",
    "Çelik",
    "Kuznetsov",
];
const ADJ: &[&str] = &[
    "Sunny",
    "Misty",
    "Golden",
    "Quiet",
    "Blurry",
    "Crowded",
    "Late-night",
    "Frozen",
    "Rainy",
    "Crème brûlée",
    "Naïve",
    "<i>Artsy</i>",
    "\"Perfect\"",
    "Tom's",
    "Rock & roll",
    "東京の",
    "Zürich",
    "Old",
    "New",
    "Spring",
];
const NOUN: &[&str] = &[
    "sunset",
    "harbour",
    "cat",
    "bridge",
    "market",
    "café",
    "skyline",
    "mountains",
    "beach",
    "street",
    "garden",
    "station",
    "<script>alert('x')</script>",
    "piñata",
    "façade",
    "fjord",
    "tapas & wine",
    "birthday",
    "concert",
    "snow day",
];
const COMMENT: &[&str] = &[
    "Lovely light!",
    "Great shot :)",
    "Where was this taken?",
    "Wow & wow again.",
    "<script>alert(\"xss\")</script> nice try",
    "Très beau !",
    "すごい",
    "Love the colours <3",
    "\"Favourite\" of the week",
    "It's on my desktop now.",
    "Ça me rappelle l'été.",
    "+1 😀",
    "Is that a <b>cat</b>?",
    "Schön!",
    "Great composition, O'Brien would be proud",
];

/// A display name like `Zoë O'Brien`.
pub fn display_name(rng: &mut Rng, out: &mut String) {
    out.clear();
    out.push_str(word(rng, FIRST));
    out.push(' ');
    out.push_str(word(rng, LAST));
}

/// A photo title like `Misty harbour #12`.
pub fn title(rng: &mut Rng, n: u64, out: &mut String) {
    out.clear();
    out.push_str(word(rng, ADJ));
    out.push(' ');
    out.push_str(word(rng, NOUN));
    let _ = write!(out, " #{n}");
}

/// A comment.
pub fn comment(rng: &mut Rng, out: &mut String) {
    out.clear();
    out.push_str(word(rng, COMMENT));
    if rng.chance(0.3) {
        out.push(' ');
        out.push_str(word(rng, COMMENT));
    }
}

/// The username of user number `n` (1-based): `user1`, `user2`, … The load
/// generator and the documentation rely on this rule.
pub fn username(n: u64, out: &mut String) {
    out.clear();
    let _ = write!(out, "user{n}");
}

fn word(rng: &mut Rng, list: &[&'static str]) -> &'static str {
    list[rng.below(list.len() as u64) as usize]
}
