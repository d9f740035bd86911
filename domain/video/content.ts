// Where a video's files live in the blob store: written by the mux, served by the API, judged by the output review.

export function contentKeys(videoId: string): { content: string; thumbnail: string; spritesheet: string } {
  return {
    content: `videos/${videoId}/content.mp4`,
    thumbnail: `videos/${videoId}/thumbnail.jpg`,
    spritesheet: `videos/${videoId}/spritesheet.jpg`,
  };
}

/** The input_reference image of a video (POST /v1/videos), the backdrop its chunks render behind the scene. */
export function inputReferenceKey(videoId: string): string {
  return `videos/${videoId}/input_reference`;
}
