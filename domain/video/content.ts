// Where a video's files live in the blob store: written by the mux, served by the API, judged by the output review.

export function contentKeys(videoId: string): { content: string; thumbnail: string; spritesheet: string } {
  return {
    content: `videos/${videoId}/content.mp4`,
    thumbnail: `videos/${videoId}/thumbnail.jpg`,
    spritesheet: `videos/${videoId}/spritesheet.jpg`,
  };
}
