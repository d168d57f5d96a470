/**
 * The super-resolution models `upscale` can fetch by name.
 *
 * @module
 */

/** The models upscale() can fetch by name (npm packages, installed on first use). */
export const SR_MODELS = {
  "esrgan-slim": { pkg: "@upscalerjs/esrgan-slim", version: "1.0.0" },
  "esrgan-medium": { pkg: "@upscalerjs/esrgan-medium", version: "1.0.0" },
  "esrgan-thick": { pkg: "@upscalerjs/esrgan-thick", version: "1.0.0" },
} as const;
