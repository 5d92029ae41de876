//! The photo pool: distinct, deterministic JPEG thumbnails (320×240, about
//! 15–40 KB each). Photos reference pool files by name; 1.5 million separate
//! files would not fit a laptop, and the serving cost of a photo is the same
//! whichever file it is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;

use crate::rng::Rng;

/// Thumbnail size, a typical Flickr "small" image of 2007.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// JPEG quality; with the grain below it lands images in the 15–40 KB range.
const QUALITY: u8 = 82;

/// The file name of pool image `i`.
pub fn pool_file(i: u64) -> String {
    format!("p{i:04}.jpg")
}

/// Encodes pool image `i` (same bytes for the same seed and index).
pub fn encode(seed: u64, i: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed).fork(0x1_0000 + i);
    // A few colour waves of random direction and frequency, plus grain: cheap
    // to compute, distinct per image, and compressible like a real photo.
    let waves: Vec<[f32; 5]> = (0..3)
        .map(|_| {
            let f = |r: &mut Rng| (r.below(1000) as f32) / 1000.0;
            [
                f(&mut rng) * 0.06,
                f(&mut rng) * 0.06,
                f(&mut rng) * std::f32::consts::TAU,
                f(&mut rng),
                f(&mut rng),
            ]
        })
        .collect();
    let grain = 10 + rng.below(18) as i32;
    let mut px = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
    let mut noise = rng.fork(1);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            for (c, w) in waves.iter().enumerate() {
                let v = ((x as f32 * w[0] + y as f32 * w[1] + w[2]).sin() * 0.5 + 0.5) * 200.0
                    + 40.0 * w[3 + (c & 1)];
                let n = (noise.below(grain as u64 * 2 + 1) as i32) - grain;
                px.push((v as i32 + n).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode(&px, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .expect("encoding to memory cannot fail");
    out
}

/// Writes the pool into `dir`. Each file is written to a temporary name and
/// renamed, and a file already holding the right bytes is left alone, so
/// databases seeded with the same `--rng-seed` share one directory and an
/// interrupted run never leaves a half-written image. Returns the total bytes.
pub fn write_pool(dir: &Path, seed: u64, count: u64) -> std::io::Result<u64> {
    fs::create_dir_all(dir)?;
    let mut total = 0;
    for i in 0..count {
        let bytes = encode(seed, i);
        total += bytes.len() as u64;
        let path = dir.join(pool_file(i));
        if fs::read(&path).is_ok_and(|old| old == bytes) {
            continue;
        }
        let tmp: PathBuf = dir.join(format!(".{}.tmp-{}", pool_file(i), std::process::id()));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        drop(f);
        fs::rename(&tmp, &path)?;
    }
    Ok(total)
}
