// Video requests as the API records them: the shared harness's (scripts/harness/videos.ts).
export * from '../../scripts/harness/videos';
