// Browsers without H.264 play the GIF instead; an error may come before the script runs.
function useGif(video) {
  const image = document.createElement("img");
  image.src = video.dataset.gif;
  image.width = video.width;
  image.height = video.height;
  video.replaceWith(image);
}
for (const video of document.querySelectorAll("video[data-gif]")) {
  if (video.error) useGif(video); else video.addEventListener("error", () => useGif(video));
}
