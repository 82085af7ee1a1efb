import { LocalCloudError } from '../errors';

/** A policy document IAM would refuse to store (IAM answers `MalformedPolicyDocument`). */
export class PolicyValidationError extends LocalCloudError {
  override name = 'MalformedPolicyDocument' as const;
}
