package gateway

import "context"

// Decode exposes the reply verification and decoding step to the external
// tests and fuzz targets.
func (c *Client) Decode(method string, body []byte, out any) error {
	return c.decode(context.Background(), method, body, out)
}
