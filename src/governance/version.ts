/** Version of the decision procedure; recorded in every Decision. Bump it whenever a rule changes behaviour. */
export const ENGINE_VERSION = '1.0.0';
