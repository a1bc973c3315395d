// Moved to dev/demo/git-http-server.ts (the demo serves its repository with it); tests import it from here.
export * from '../../dev/demo/git-http-server.ts';
