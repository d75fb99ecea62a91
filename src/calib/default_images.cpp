// The default calibration photographs (data/images/README.md: sources and licences), embedded
// in the library with the assembler's .incbin: a binary that is installed or moved needs no data
// folder to find them.
#include <modelkit/calib_sources.hpp>

#include <array>

#ifndef MODELKIT_IMAGE_DATA_DIR
#error "MODELKIT_IMAGE_DATA_DIR must name data/images (src/calib/CMakeLists.txt)"
#endif

// Defines <sym>_start/<sym>_end around the bytes of data/images/<file>, read-only, hidden.
#define MODELKIT_EMBED_IMAGE(sym, file)                                                   \
  __asm__(".section .rodata\n"                                                            \
          ".global " #sym "_start\n.hidden " #sym "_start\n.balign 16\n" #sym "_start:\n" \
          ".incbin \"" MODELKIT_IMAGE_DATA_DIR "/" file "\"\n"                            \
          ".global " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n"                   \
          ".previous\n");                                                                 \
  extern "C" const char sym##_start[];                                                    \
  extern "C" const char sym##_end[];

MODELKIT_EMBED_IMAGE(modelkit_image_astronaut, "astronaut.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_chelsea, "chelsea.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_coffee, "coffee.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_rocket, "rocket.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_retina, "retina.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_hubble, "hubble_deep_field.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_coins, "coins.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_brick, "brick.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_grass, "grass.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_gravel, "gravel.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_camera, "camera.jpg")
MODELKIT_EMBED_IMAGE(modelkit_image_grace_hopper, "grace_hopper.jpg")

namespace modelkit::calib {
namespace {

std::string_view bytes(const char* start, const char* end) {
  return {start, static_cast<std::size_t>(end - start)};
}

}  // namespace

std::span<const EmbeddedImage> default_images() {
  static const std::array<EmbeddedImage, 12> images = {{
      {"astronaut.jpg", bytes(modelkit_image_astronaut_start, modelkit_image_astronaut_end)},
      {"chelsea.jpg", bytes(modelkit_image_chelsea_start, modelkit_image_chelsea_end)},
      {"coffee.jpg", bytes(modelkit_image_coffee_start, modelkit_image_coffee_end)},
      {"rocket.jpg", bytes(modelkit_image_rocket_start, modelkit_image_rocket_end)},
      {"retina.jpg", bytes(modelkit_image_retina_start, modelkit_image_retina_end)},
      {"hubble_deep_field.jpg", bytes(modelkit_image_hubble_start, modelkit_image_hubble_end)},
      {"coins.jpg", bytes(modelkit_image_coins_start, modelkit_image_coins_end)},
      {"brick.jpg", bytes(modelkit_image_brick_start, modelkit_image_brick_end)},
      {"grass.jpg", bytes(modelkit_image_grass_start, modelkit_image_grass_end)},
      {"gravel.jpg", bytes(modelkit_image_gravel_start, modelkit_image_gravel_end)},
      {"camera.jpg", bytes(modelkit_image_camera_start, modelkit_image_camera_end)},
      {"grace_hopper.jpg", bytes(modelkit_image_grace_hopper_start, modelkit_image_grace_hopper_end)},
  }};
  return images;
}

}  // namespace modelkit::calib
